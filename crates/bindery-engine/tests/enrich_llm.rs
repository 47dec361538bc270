//! The book pipeline with the language-model analyzer behind `enrich`, against the fake OpenAI server: the analysis
//! records the model's report, the enrich stage's summary carries tokens and cost, answers are cached in blob
//! storage, a reprocess of the same document asks the model nothing, and a document with a deadline goes by batch
//! while its job waits.

mod common;

use bindery_core::DocumentStatus;
use bindery_engine::worker::{Worker, WorkerOptions};
use bindery_engine::{Engine, SubmitOptions};
use bindery_enrich::testing::{plain_model, BOOK_SUMMARY};
use bindery_enrich::{BatchOptions, LlmAnalyzer, LlmOptions};
use bindery_llm::fake::FakeOpenAi;
use bindery_llm::{Client, Price, ProviderOptions};
use bindery_stages::book::kinds;
use common::{assert_ready, options, sample_markdown, Backend, TestApp};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

async fn enriched_by_a_model_and_cached_across_reprocess(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let fake = FakeOpenAi::start(Arc::new(plain_model)).await;
    let mut provider = ProviderOptions::new("fake", fake.base_url(), "fake-model");
    provider.price = Some(Price { input_per_mtok_usd: 1.0, output_per_mtok_usd: 4.0, batch_discount: 0.5 });
    let analyzer = LlmAnalyzer::new(Client::new(provider).unwrap(), LlmOptions::default());
    let registry = bindery_stages::registry_with(Arc::new(analyzer));
    let engine = Engine::new(app.store.clone(), app.engine.blobs().clone(), registry, options(""));

    let sub = engine.submit_reader("book.md", &sample_markdown()[..], None, Some("p1")).await.unwrap();
    app.drain(&engine).await;
    let s = app.state(sub.id.as_str()).await;
    assert_ready(&s);
    let calls = fake.chat_calls();
    assert!(calls >= 2, "at least one chapter and the book summary");
    let model = &s.results["enrich"]["model"];
    assert_eq!(model["model"], "fake-model");
    assert_eq!((model["requests"].as_u64(), model["cached"].as_u64()), (Some(calls as u64), Some(0)));
    assert!(model["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(model["cost_usd"].as_f64().unwrap() > 0.0);
    let analysis: Value = {
        let key = &s.artifacts.iter().find(|a| a.kind == kinds::ANALYSIS).unwrap().key;
        serde_json::from_slice(&engine.blobs().get_bytes(key, 1 << 20).await.unwrap()).unwrap()
    };
    assert_eq!(analysis["analyzer"], "fake:fake-model");
    assert_eq!(analysis["summary"], BOOK_SUMMARY);
    assert_eq!(analysis["chapters"][0]["scenes"][0]["atmosphere"], "quiet");
    let cached = engine.blobs().list_keys("cache/analyzer").await.unwrap();
    assert_eq!(cached.len(), calls, "one cache entry per answered request");

    engine.reprocess(&s.id, None).await.unwrap();
    app.drain(&engine).await;
    let again = app.state(&s.id).await;
    assert_ready(&again);
    assert_eq!(fake.chat_calls(), calls, "a reprocess asks the model nothing");
    let model = &again.results["enrich"]["model"];
    assert_eq!((model["requests"].as_u64(), model["cached"].as_u64()), (Some(0), Some(calls as u64)));
    assert_eq!(model["cost_usd"].as_f64(), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enriched_by_a_model_sqlite() {
    enriched_by_a_model_and_cached_across_reprocess(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enriched_by_a_model_postgres() {
    enriched_by_a_model_and_cached_across_reprocess(Backend::Postgres).await;
}

/// A document with a far deadline goes by batch: the `enrich` job waits (no attempt lost, no event, the note on the
/// job) until the provider's batch is over, then the pipeline finishes with the batch's answers.
async fn a_deadline_sends_the_book_by_batch_and_the_job_waits(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let fake = FakeOpenAi::start(Arc::new(plain_model)).await;
    let provider = ProviderOptions::new("fake", fake.base_url(), "fake-model");
    let batch = BatchOptions { poll: Duration::from_millis(100), ..BatchOptions::default() };
    let analyzer =
        LlmAnalyzer::new(Client::new(provider).unwrap(), LlmOptions { batch: Some(batch), ..Default::default() });
    let engine = Engine::new(
        app.store.clone(),
        app.engine.blobs().clone(),
        bindery_stages::registry_with(Arc::new(analyzer)),
        options(""),
    );
    let deadline = bindery_core::time::now_ms() + 12 * 3_600_000;
    let submit = SubmitOptions { project: Some("p1".into()), deadline_ms: Some(deadline), ..Default::default() };
    let sub = engine.submit_with("book.md", &sample_markdown()[..], &submit).await.unwrap();
    assert_eq!(app.state(sub.id.as_str()).await.deadline_ms, Some(deadline));
    let worker = Worker::new(engine.clone(), WorkerOptions { exit_when_idle: false, ..app.worker_options() }).run();

    // The batch is made, and the job waits for it, polling, without losing attempts.
    let guard = tokio::time::Instant::now() + Duration::from_secs(120);
    let waiting = loop {
        let jobs = app.store.jobs(None, 0, 100).await.unwrap();
        let enrich = jobs.into_iter().find(|j| j.payload["stage"] == "enrich");
        if let Some(j) = enrich.filter(|j| j.last_error.as_deref().is_some_and(|e| e.contains("answered"))) {
            break j;
        }
        assert!(tokio::time::Instant::now() < guard, "the enrich job never waited on a batch");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(fake.batches_created(), 1);
    assert_eq!(fake.chat_calls(), 0);
    assert!(waiting.attempt <= 1, "waiting costs no attempt: {waiting:?}");
    assert_eq!(app.state(sub.id.as_str()).await.status, DocumentStatus::Processing);

    fake.complete_batches().await;
    let guard = tokio::time::Instant::now() + Duration::from_secs(120);
    let s = loop {
        let s = app.state(sub.id.as_str()).await;
        if s.status != DocumentStatus::Processing {
            break s;
        }
        assert!(tokio::time::Instant::now() < guard, "the document never finished after the batch");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    worker.shutdown().await;
    assert_ready(&s);
    assert_eq!(s.results["enrich"]["model"]["mode"], "batch");
    assert_eq!(fake.batches_created(), 1, "never sent twice");
    assert_eq!(fake.chat_calls(), 1, "only the whole-book summary was synchronous");
    let types = app.types(&s.id).await;
    assert_eq!(types.iter().filter(|t| t.as_str() == "stage.failed").count(), 0, "a wait is not a failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_by_deadline_sqlite() {
    a_deadline_sends_the_book_by_batch_and_the_job_waits(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_by_deadline_postgres() {
    a_deadline_sends_the_book_by_batch_and_the_job_waits(Backend::Postgres).await;
}
