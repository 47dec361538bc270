//! Files and the Batch API: upload, create, complete, expire, cancel, list,
//! and downloads bounded in size.

use std::collections::HashMap;
use std::time::Duration;

use bindery_llm::fake::FakeOpenAi;
use bindery_llm::{
    parse_jsonl, to_jsonl, BatchRequestLine, BatchResultLine, BatchStatus, Client, LlmError, RequestCounts,
};
use bytes::Bytes;

use crate::{ask, echo, options};

fn input(ids: &[&str]) -> Bytes {
    let lines: Vec<BatchRequestLine> =
        ids.iter().map(|id| BatchRequestLine::chat(*id, ask(&format!("question {id}")))).collect();
    to_jsonl(&lines)
}

fn tag(value: &str) -> HashMap<String, String> {
    HashMap::from([("job".to_owned(), value.to_owned())])
}

#[tokio::test]
async fn a_batch_round_trip_with_a_failed_line() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.fail_line("b", 500);
    let client = Client::new(options(&fake)).unwrap();

    let jsonl = input(&["a", "b", "c"]);
    let file = client.upload_batch_file("book.jsonl", jsonl.clone()).await.unwrap();
    assert_eq!(
        (file.purpose.as_str(), file.filename.as_str(), file.bytes),
        ("batch", "book.jsonl", jsonl.len() as u64)
    );
    assert_eq!(fake.file_content(&file.id), Some(jsonl));

    let created = client.create_batch(&file.id, tag("j1")).await.unwrap();
    assert_eq!(created.status, BatchStatus::Validating);
    assert_eq!(created.endpoint, "/v1/chat/completions");
    assert_eq!(created.completion_window, "24h");
    assert_eq!(created.metadata, Some(tag("j1")));
    let running = client.batch(&created.id).await.unwrap();
    assert_eq!(running.status, BatchStatus::InProgress);
    assert_eq!(running.output_file_id, None);

    fake.complete_batches().await;
    let done = client.batch(&created.id).await.unwrap();
    assert_eq!(done.status, BatchStatus::Completed);
    assert_eq!(done.request_counts, Some(RequestCounts { total: 3, completed: 2, failed: 1 }));

    let output = client.file_content(done.output_file_id.as_deref().unwrap(), 1 << 20).await.unwrap();
    let mut lines: Vec<BatchResultLine> = parse_jsonl(&output).unwrap();
    lines.sort_by(|x, y| x.custom_id.cmp(&y.custom_id));
    assert_eq!(lines.iter().map(|l| l.custom_id.as_str()).collect::<Vec<_>>(), ["a", "c"]);
    for line in &lines {
        assert!(line.id.starts_with("batch_req_"));
        assert_eq!(line.response.as_ref().unwrap().status_code, 200);
        let chat = line.chat_response().unwrap();
        assert_eq!(chat.content(), Some(format!("answer to question {}", line.custom_id).as_str()));
        assert!(chat.usage.unwrap().prompt_tokens > 0);
    }

    let errors = client.file_content(done.error_file_id.as_deref().unwrap(), 1 << 20).await.unwrap();
    let errors: Vec<BatchResultLine> = parse_jsonl(&errors).unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].custom_id, "b");
    assert_eq!(errors[0].response.as_ref().unwrap().status_code, 500);
    assert!(matches!(errors[0].chat_response(), Err(LlmError::Server { status: 500, .. })));

    let requests = fake.requests();
    assert!(requests.contains(&"POST /v1/files".to_owned()));
    assert!(requests.contains(&"POST /v1/batches".to_owned()));
    assert!(requests.contains(&format!("GET /v1/files/{}/content", done.output_file_id.unwrap())));
    assert_eq!(fake.batches_created(), 1);
}

#[tokio::test]
async fn an_expired_batch_keeps_its_partial_results() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.set_lines_done_before_expiry(2);
    let client = Client::new(options(&fake)).unwrap();
    let file = client.upload_batch_file("in.jsonl", input(&["a", "b", "c"])).await.unwrap();
    let batch = client.create_batch(&file.id, HashMap::new()).await.unwrap();
    assert_eq!(batch.metadata, None);

    fake.expire_batches().await;

    let expired = client.batch(&batch.id).await.unwrap();
    assert_eq!(expired.status, BatchStatus::Expired);
    assert!(expired.status.is_terminal());
    assert!(expired.expired_at.is_some());
    assert_eq!(expired.request_counts, Some(RequestCounts { total: 3, completed: 2, failed: 1 }));
    let output: Vec<BatchResultLine> =
        parse_jsonl(&client.file_content(expired.output_file_id.as_deref().unwrap(), 1 << 20).await.unwrap()).unwrap();
    assert_eq!(output.len(), 2);
    let errors: Vec<BatchResultLine> =
        parse_jsonl(&client.file_content(expired.error_file_id.as_deref().unwrap(), 1 << 20).await.unwrap()).unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].custom_id, "c");
    assert_eq!(errors[0].response, None);
    assert_eq!(errors[0].error.as_ref().unwrap().code, "batch_expired");
    assert!(errors[0].chat_response().unwrap_err().is_retryable(), "an expired line may be submitted again");
}

#[tokio::test]
async fn an_expired_batch_with_nothing_done_has_only_an_error_file() {
    let fake = FakeOpenAi::start(echo()).await;
    let client = Client::new(options(&fake)).unwrap();
    let file = client.upload_batch_file("in.jsonl", input(&["a", "b"])).await.unwrap();
    let batch = client.create_batch(&file.id, HashMap::new()).await.unwrap();

    fake.expire_batches().await;

    let expired = client.batch(&batch.id).await.unwrap();
    assert_eq!(expired.status, BatchStatus::Expired);
    assert_eq!(expired.output_file_id, None);
    assert_eq!(expired.request_counts, Some(RequestCounts { total: 2, completed: 0, failed: 2 }));
}

#[tokio::test]
async fn list_batches_finds_one_by_its_metadata() {
    let fake = FakeOpenAi::start(echo()).await;
    let client = Client::new(options(&fake)).unwrap();
    let file = client.upload_batch_file("in.jsonl", input(&["a"])).await.unwrap();
    let mut ids = Vec::new();
    for job in ["j1", "j2", "j3"] {
        ids.push(client.create_batch(&file.id, tag(job)).await.unwrap().id);
    }

    let first = client.list_batches_page(None, 2).await.unwrap();
    assert_eq!(first.data.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(), [&ids[2], &ids[1]], "newest first");
    assert!(first.has_more);
    assert_eq!(first.last_id.as_deref(), Some(ids[1].as_str()));
    let second = client.list_batches(first.last_id.as_deref(), 2).await.unwrap();
    assert_eq!(second.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(), [&ids[0]]);

    let mut found = None;
    let mut after: Option<String> = None;
    loop {
        let page = client.list_batches(after.as_deref(), 1).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        if let Some(batch) = page.into_iter().find(|b| b.metadata.as_ref() == Some(&tag("j2"))) {
            found = Some(batch);
            break;
        }
    }
    assert_eq!(found.map(|b| b.id), Some(ids[1].clone()));
    assert!(fake.requests().contains(&"GET /v1/batches".to_owned()));
}

#[tokio::test]
async fn a_cancelled_batch_is_cancelling_then_cancelled() {
    let fake = FakeOpenAi::start(echo()).await;
    let client = Client::new(options(&fake)).unwrap();
    let file = client.upload_batch_file("in.jsonl", input(&["a"])).await.unwrap();
    let batch = client.create_batch(&file.id, HashMap::new()).await.unwrap();

    assert_eq!(client.cancel_batch(&batch.id).await.unwrap().status, BatchStatus::Cancelling);
    assert_eq!(client.batch(&batch.id).await.unwrap().status, BatchStatus::Cancelled);
    fake.complete_batches().await;
    assert_eq!(client.batch(&batch.id).await.unwrap().status, BatchStatus::Cancelled, "a cancelled batch stays so");
}

#[tokio::test]
async fn malformed_input_lines_fail_the_batch() {
    let fake = FakeOpenAi::start(echo()).await;
    let client = Client::new(options(&fake)).unwrap();
    let mut jsonl = input(&["a"]).to_vec();
    jsonl.extend_from_slice(b"{\"custom_id\": \"b\", \"method\": \"POST\"\n");
    let file = client.upload_batch_file("in.jsonl", jsonl.into()).await.unwrap();

    let batch = client.create_batch(&file.id, HashMap::new()).await.unwrap();

    let failed = client.batch(&batch.id).await.unwrap();
    assert_eq!(failed.status, BatchStatus::Failed);
    let errors = failed.errors.unwrap().data;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, Some(2));
    assert_eq!(errors[0].code.as_deref(), Some("invalid_json_line"));
}

#[tokio::test(start_paused = true)]
async fn a_batch_delay_completes_batches_by_itself() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.set_batch_delay(Some(Duration::from_secs(600)));
    let client = Client::new(options(&fake)).unwrap();
    let file = client.upload_batch_file("in.jsonl", input(&["a"])).await.unwrap();
    let batch = client.create_batch(&file.id, HashMap::new()).await.unwrap();

    tokio::time::sleep(Duration::from_secs(601)).await;

    assert_eq!(client.batch(&batch.id).await.unwrap().status, BatchStatus::Completed);
}

#[tokio::test]
async fn unknown_ids_are_refused() {
    let fake = FakeOpenAi::start(echo()).await;
    let client = Client::new(options(&fake)).unwrap();
    assert!(matches!(client.batch("batch_nope").await, Err(LlmError::Refused { status: 404, .. })));
    assert!(matches!(
        client.create_batch("file-nope", HashMap::new()).await,
        Err(LlmError::Refused { status: 404, .. })
    ));
    assert!(matches!(client.file_content("file-nope", 10).await, Err(LlmError::Refused { status: 404, .. })));
    assert!(matches!(client.file_content("..", 10).await, Err(LlmError::Refused { status: 0, .. })));
}

#[tokio::test]
async fn a_file_over_max_bytes_is_refused() {
    let fake = FakeOpenAi::start(echo()).await;
    let client = Client::new(options(&fake)).unwrap();
    let file = client.upload_batch_file("in.jsonl", input(&["a", "b", "c"])).await.unwrap();

    let error = client.file_content(&file.id, file.bytes - 1).await.unwrap_err();

    assert_eq!(error, LlmError::TooLarge(file.bytes));
    assert!(!error.is_retryable());
    assert_eq!(client.file_content(&file.id, file.bytes).await.unwrap().len() as u64, file.bytes);
    assert_eq!(client.file(&file.id).await.unwrap(), file);
    assert!(client.delete_file(&file.id).await.unwrap().deleted);
    assert_eq!(fake.file_content(&file.id), None);
}

#[tokio::test]
async fn a_body_without_a_length_is_cut_off_while_it_streams() {
    // A server that streams its body in chunks, without Content-Length, so
    // only counting the bytes can stop it.
    let app = axum::Router::new().route(
        "/v1/files/{id}/content",
        axum::routing::get(|| async {
            let chunks = (0..10).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1000])));
            axum::body::Body::from_stream(futures::stream::iter(chunks))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut options = bindery_llm::ProviderOptions::new("stream", base, "m");
    options.max_retries = 0;
    let client = Client::new(options).unwrap();

    let error = client.file_content("file-big", 2500).await.unwrap_err();

    assert!(matches!(error, LlmError::TooLarge(seen) if seen > 2500 && seen <= 3500), "{error:?}");
    assert_eq!(client.file_content("file-big", 10_000).await.unwrap().len(), 10_000);
    server.abort();
}
