//! Chat completions: the wire format, retries, and what is not retried.

use std::sync::Arc;
use std::time::Duration;

use bindery_llm::fake::{FakeOpenAi, FakeReply, Fault};
use bindery_llm::{ChatRequest, Client, LlmError, Message, ResponseFormat};
use serde_json::json;
use tokio::time::Instant;

use crate::{ask, echo, options};

#[tokio::test]
async fn round_trip_sends_json_schema_as_openai_expects() {
    let fake = FakeOpenAi::start_with_key(FakeOpenAi::constant(r#"{"summary":"ok"}"#), "sk-test").await;
    let client = Client::new(options(&fake).with_api_key("sk-test")).unwrap();
    let schema = json!({"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"], "additionalProperties": false});
    let request = ChatRequest {
        model: "gpt-fake".into(),
        messages: vec![Message::system("You summarise."), Message::user("Summarise this text.")],
        temperature: Some(0.2),
        max_tokens: None,
        max_completion_tokens: Some(300),
        response_format: Some(ResponseFormat::JsonSchema {
            name: "summary".into(),
            schema: schema.clone(),
            strict: true,
        }),
        seed: Some(7),
    };

    let response = client.chat(&request).await.unwrap();

    assert_eq!(response.content(), Some(r#"{"summary":"ok"}"#));
    assert_eq!(response.finish_reason(), Some("stop"));
    assert_eq!(response.model, "gpt-fake");
    let usage = response.usage.unwrap();
    assert_eq!(usage.prompt_tokens, ("You summarise.".len() + "Summarise this text.".len()) as u64 / 4);
    assert_eq!(usage.completion_tokens, r#"{"summary":"ok"}"#.len() as u64 / 4);
    assert_eq!(
        fake.chat_requests(),
        vec![json!({
            "model": "gpt-fake",
            "messages": [
                {"role": "system", "content": "You summarise."},
                {"role": "user", "content": "Summarise this text."}
            ],
            "temperature": 0.2,
            "max_completion_tokens": 300,
            "response_format": {"type": "json_schema", "json_schema": {"name": "summary", "schema": schema, "strict": true}},
            "seed": 7
        })]
    );
    assert_eq!(fake.requests(), vec!["POST /v1/chat/completions".to_owned()]);
}

#[tokio::test]
async fn a_request_without_a_model_gets_the_options_model() {
    let fake = FakeOpenAi::start(echo()).await;
    let client = Client::new(options(&fake)).unwrap();
    let response = client.chat(&ChatRequest::new("", vec![Message::user("hi")])).await.unwrap();
    assert_eq!(response.model, "gpt-fake");
    assert_eq!(fake.chat_requests()[0]["model"], "gpt-fake");
}

#[tokio::test(start_paused = true)]
async fn rate_limited_then_success_waits_for_retry_after() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.push_fault(Fault::RateLimited { retry_after_secs: 7 });
    let client = Client::new(options(&fake)).unwrap();

    let start = Instant::now();
    let response = client.chat(&ask("hello")).await.unwrap();

    assert_eq!(response.content(), Some("answer to hello"));
    assert!(start.elapsed() >= Duration::from_secs(7), "waited only {:?}", start.elapsed());
    assert_eq!(fake.chat_calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.push_fault(Fault::Status(500));
    fake.push_fault(Fault::Status(500));
    let client = Client::new(options(&fake)).unwrap();

    let response = client.chat(&ask("again")).await.unwrap();

    assert_eq!(response.content(), Some("answer to again"));
    assert_eq!(fake.chat_calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_malformed_body_is_retried() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.push_fault(Fault::MalformedBody);
    let client = Client::new(options(&fake)).unwrap();

    let response = client.chat(&ask("x")).await.unwrap();

    assert_eq!(response.content(), Some("answer to x"));
    assert_eq!(fake.chat_calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_bad_request_is_not_retried() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.push_fault(Fault::Status(400));
    let client = Client::new(options(&fake)).unwrap();

    let error = client.chat(&ask("x")).await.unwrap_err();

    assert!(matches!(error, LlmError::Refused { status: 400, .. }), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(fake.chat_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_responders_refusal_is_not_retried_either() {
    let responder = Arc::new(|_: &ChatRequest| FakeReply::Status(422, "schema not supported".into()));
    let fake = FakeOpenAi::start(responder).await;
    let client = Client::new(options(&fake)).unwrap();

    let error = client.chat(&ask("x")).await.unwrap_err();

    match error {
        LlmError::Refused { status, code, message } => {
            assert_eq!(status, 422);
            assert_eq!(code.as_deref(), Some("invalid_request_error"));
            assert_eq!(message, "schema not supported");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.chat_calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_return_the_last_error() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.set_always(Some(Fault::Status(503)));
    let mut options = options(&fake);
    options.max_retries = 2;
    let client = Client::new(options).unwrap();

    let error = client.chat(&ask("x")).await.unwrap_err();

    assert!(matches!(error, LlmError::Server { status: 503, .. }), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(fake.chat_calls(), 3);
}

#[tokio::test]
async fn a_wrong_api_key_is_refused() {
    let fake = FakeOpenAi::start_with_key(echo(), "sk-right").await;
    let client = Client::new(options(&fake).with_api_key("sk-wrong")).unwrap();

    let error = client.chat(&ask("x")).await.unwrap_err();

    match &error {
        LlmError::Refused { status: 401, code, message } => {
            assert_eq!(code.as_deref(), Some("invalid_api_key"));
            assert!(!message.contains("sk-wrong"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!error.to_string().contains("sk-wrong"));
    assert_eq!(fake.requests().len(), 1, "a refusal is not retried");

    let keyless = Client::new(options(&fake)).unwrap();
    assert!(matches!(keyless.chat(&ask("x")).await, Err(LlmError::Refused { status: 401, .. })));
}

#[tokio::test]
async fn invalid_content_reaches_the_caller_untouched() {
    let fake = FakeOpenAi::start(FakeOpenAi::constant(r#"{"summary":"ok"}"#)).await;
    fake.push_fault(Fault::InvalidContent(r#"{"summ"#.into()));
    let client = Client::new(options(&fake)).unwrap();

    assert_eq!(client.chat(&ask("x")).await.unwrap().content(), Some(r#"{"summ"#));
    assert_eq!(client.chat(&ask("x")).await.unwrap().content(), Some(r#"{"summary":"ok"}"#));
}

#[tokio::test]
async fn the_fake_cuts_answers_at_the_completion_limit() {
    let fake = FakeOpenAi::start(FakeOpenAi::constant("a".repeat(100))).await;
    let client = Client::new(options(&fake)).unwrap();
    let mut request = ask("x");
    request.max_tokens = Some(5);

    let response = client.chat(&request).await.unwrap();

    assert_eq!(response.content(), Some("a".repeat(20).as_str()));
    assert_eq!(response.finish_reason(), Some("length"));
}

#[tokio::test(start_paused = true)]
async fn a_hanging_server_times_out() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.push_fault(Fault::Hang(Duration::from_secs(600)));
    let mut options = options(&fake);
    options.request_timeout = Duration::from_secs(5);
    options.max_retries = 0;
    let client = Client::new(options).unwrap();

    let error = client.chat(&ask("x")).await.unwrap_err();

    assert!(matches!(error, LlmError::Timeout(_)), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(client.chat(&ask("y")).await.unwrap().content(), Some("answer to y"));
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    // A port that was free a moment ago: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut options = bindery_llm::ProviderOptions::new("nowhere", format!("http://127.0.0.1:{port}/v1"), "m");
    options.max_retries = 1;
    options.backoff_base = Duration::from_millis(1);
    let client = Client::new(options).unwrap();

    let error = client.chat(&ask("x")).await.unwrap_err();

    assert!(matches!(error, LlmError::Transport(_)), "{error:?}");
}
