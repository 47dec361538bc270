//! The book pipeline with the language-model analyzer behind `enrich`, against the fake OpenAI server: the analysis
//! records the model's report, the enrich stage's summary carries tokens and cost, answers are cached in blob
//! storage and deleted with the last document that holds them (a failed one too), a reprocess of the same document asks the model
//! nothing, and a document with a deadline goes by batch
//! while its job waits, and cancelling it cancels the batch (even one created as the cancel looked), as deleting it does; each project's choice among the instance's analyzers
//! is followed.

// The engine's test harness, run here on the book's pipeline.
#[path = "../../bindery-engine/tests/common/mod.rs"]
mod common;

/// The pipelines `common::TestApp` runs: the book's.
fn registry() -> bindery_pipeline::Registry {
    bindery_stages::registry()
}

use bindery_core::DocumentStatus;
use bindery_engine::worker::{Worker, WorkerOptions};
use bindery_engine::{Engine, SubmitOptions, Submitted};
use bindery_enrich::testing::{is_book_request, plain_model, BOOK_SUMMARY};
use bindery_enrich::{BatchOptions, LlmAnalyzer, LlmOptions};
use bindery_llm::fake::{FakeOpenAi, FakeReply};
use bindery_llm::{BatchStatus, Client, Price, ProviderOptions};
use bindery_stages::book::kinds;
use bindery_store::{Project, User};
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
    let registry = bindery_stages::registry_with(bindery_stages::Analyzers::new(Arc::new(analyzer)));
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
    let cached = cache_keys(&engine).await;
    assert_eq!(cached.len(), calls, "one cache entry per answered request");

    engine.reprocess(&s.id, None).await.unwrap();
    app.drain(&engine).await;
    let again = app.state(&s.id).await;
    assert_ready(&again);
    assert_eq!(fake.chat_calls(), calls, "a reprocess asks the model nothing");
    let model = &again.results["enrich"]["model"];
    assert_eq!((model["requests"].as_u64(), model["cached"].as_u64()), (Some(0), Some(calls as u64)));
    assert_eq!(model["cost_usd"].as_f64(), Some(0.0));
    assert_eq!(again.references.iter().cloned().collect::<Vec<_>>(), cached, "the document holds its cached answers");

    // The same book in another project shares the answers; they go with the last document that holds them.
    let other = engine.submit_reader("book.md", &sample_markdown()[..], None, Some("p2")).await.unwrap();
    app.drain(&engine).await;
    let o = app.state(other.id.as_str()).await;
    assert_ready(&o);
    assert_eq!(fake.chat_calls(), calls, "answered from the shared cache");
    assert_eq!(o.references, again.references);
    engine.delete_document(&s.id, None).await.unwrap();
    app.drain(&engine).await;
    assert!(app.store.document(&s.id).await.unwrap().is_none());
    assert_eq!(cache_keys(&engine).await, cached, "still held by the other document");
    engine.delete_document(other.id.as_str(), None).await.unwrap();
    app.drain(&engine).await;
    assert!(cache_keys(&engine).await.is_empty(), "nothing derived from the book stays");
}

/// A run that fails after the model answered some chapters keeps those answers for the next attempt, and the
/// failed document holds them: deleting it deletes them.
async fn answers_of_a_failed_run_go_with_the_document(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    // Chapters are answered; the whole-book request, asked last, is refused for good.
    let fake = FakeOpenAi::start(FakeOpenAi::responder(|request| {
        if is_book_request(request) {
            FakeReply::Status(401, "Incorrect API key provided".into())
        } else {
            plain_model(request)
        }
    }))
    .await;
    let analyzer = LlmAnalyzer::new(
        Client::new(ProviderOptions::new("fake", fake.base_url(), "fake-model")).unwrap(),
        LlmOptions::default(),
    );
    let registry = bindery_stages::registry_with(bindery_stages::Analyzers::new(Arc::new(analyzer)));
    let engine = Engine::new(app.store.clone(), app.engine.blobs().clone(), registry, options(""));
    let sub = engine.submit_reader("book.md", &sample_markdown()[..], None, Some("p1")).await.unwrap();
    app.drain(&engine).await;
    let s = app.state(sub.id.as_str()).await;
    assert_eq!(s.status, DocumentStatus::Failed, "{:?}", s.error);
    let cached = cache_keys(&engine).await;
    assert!(!cached.is_empty(), "the chapters' answers were cached");
    assert_eq!(s.references.iter().cloned().collect::<Vec<_>>(), cached, "the failed document holds them");

    engine.delete_document(sub.id.as_str(), None).await.unwrap();
    app.drain(&engine).await;
    assert!(cache_keys(&engine).await.is_empty(), "deleted with the document");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_run_answers_sqlite() {
    answers_of_a_failed_run_go_with_the_document(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_run_answers_postgres() {
    answers_of_a_failed_run_go_with_the_document(Backend::Postgres).await;
}

/// The analyzer cache's blob keys, sorted.
async fn cache_keys(engine: &Engine) -> Vec<String> {
    let mut keys = engine.blobs().list_keys("cache/analyzer").await.unwrap();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enriched_by_a_model_sqlite() {
    enriched_by_a_model_and_cached_across_reprocess(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enriched_by_a_model_postgres() {
    enriched_by_a_model_and_cached_across_reprocess(Backend::Postgres).await;
}

/// An engine whose analyzer may batch (looking every 100 ms), and a document submitted to it with a deadline 12 hours
/// away.
async fn submitted_with_a_deadline(app: &TestApp, fake: &FakeOpenAi) -> (Engine, Submitted, i64) {
    let provider = ProviderOptions::new("fake", fake.base_url(), "fake-model");
    let batch = BatchOptions { poll: Duration::from_millis(100), ..BatchOptions::default() };
    let analyzer =
        LlmAnalyzer::new(Client::new(provider).unwrap(), LlmOptions { batch: Some(batch), ..Default::default() });
    let engine = Engine::new(
        app.store.clone(),
        app.engine.blobs().clone(),
        bindery_stages::registry_with(bindery_stages::Analyzers::new(Arc::new(analyzer))),
        options(""),
    );
    let deadline = bindery_core::time::now_ms() + 12 * 3_600_000;
    let submit = SubmitOptions { project: Some("p1".into()), deadline_ms: Some(deadline), ..Default::default() };
    let sub = engine.submit_with("book.md", &sample_markdown()[..], &submit).await.unwrap();
    (engine, sub, deadline)
}

/// A document with a far deadline goes by batch: the `enrich` job waits (no attempt lost, no event, the note on the
/// job) until the provider's batch is over, then the pipeline finishes with the batch's answers.
async fn a_deadline_sends_the_book_by_batch_and_the_job_waits(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let fake = FakeOpenAi::start(Arc::new(plain_model)).await;
    let (engine, sub, deadline) = submitted_with_a_deadline(&app, &fake).await;
    assert_eq!(app.state(sub.id.as_str()).await.deadline_ms, Some(deadline));
    let worker = Worker::new(engine.clone(), WorkerOptions { exit_when_idle: false, ..app.worker_options() }).run();

    // The batch is made, and the job waits for it, polling, without losing attempts.
    let waiting = waiting_on_a_batch(&app).await;
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

/// The `enrich` job once it has looked at its batch at least once after creating it.
async fn waiting_on_a_batch(app: &TestApp) -> bindery_core::Job {
    let guard = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let jobs = app.store.jobs(None, 0, 100).await.unwrap();
        let enrich = jobs.into_iter().find(|j| j.payload["stage"] == "enrich");
        if let Some(j) = enrich.filter(|j| j.last_error.as_deref().is_some_and(|e| e.contains("answered"))) {
            return j;
        }
        assert!(tokio::time::Instant::now() < guard, "the enrich job never waited on a batch");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Cancelling a document whose book is in a provider's batch cancels the batch too; a later reprocess finds that
/// batch (never sending a second one) and asks synchronously what it did not answer.
async fn cancelling_a_document_cancels_its_batch(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let fake = FakeOpenAi::start(Arc::new(plain_model)).await;
    let (engine, sub, _) = submitted_with_a_deadline(&app, &fake).await;
    let worker = Worker::new(engine.clone(), WorkerOptions { exit_when_idle: false, ..app.worker_options() }).run();
    waiting_on_a_batch(&app).await;
    assert_eq!(fake.batches()[0].status, BatchStatus::InProgress);

    engine.cancel(sub.id.as_str()).await.unwrap();
    worker.shutdown().await;
    assert_eq!(app.state(sub.id.as_str()).await.status, DocumentStatus::Cancelled);
    let batches = fake.batches();
    assert_eq!((batches.len(), batches[0].status), (1, BatchStatus::Cancelled), "the provider stops billing");
    assert_eq!(fake.chat_calls(), 0);

    engine.reprocess(sub.id.as_str(), None).await.unwrap();
    app.drain(&engine).await;
    let s = app.state(sub.id.as_str()).await;
    assert_ready(&s);
    assert_eq!(fake.batches_created(), 1, "the cancelled batch is found again, not sent twice");
    assert!(fake.chat_calls() >= 2, "what the batch did not answer was asked synchronously");
    assert_eq!(s.results["enrich"]["model"]["requests"].as_u64(), Some(fake.chat_calls() as u64));
}

/// A cancel that looks for the document's batch just before the running job creates it: the job's result is then
/// refused (its lease went with the cancel), and the engine tells the stage again, which cancels the new batch.
async fn a_batch_created_as_the_document_is_cancelled_is_cancelled_too(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let fake = FakeOpenAi::start(Arc::new(plain_model)).await;
    let (engine, sub, _) = submitted_with_a_deadline(&app, &fake).await;
    fake.hold_batch_creation();
    // Heartbeats far apart, so the job runs on to hand in its result rather than being stopped by one.
    let opts = WorkerOptions {
        exit_when_idle: false,
        heartbeat: Duration::from_secs(20),
        lease: Duration::from_secs(60),
        ..app.worker_options()
    };
    let worker = Worker::new(engine.clone(), opts).run();
    let guard = tokio::time::Instant::now() + Duration::from_secs(120);
    while !fake.requests().iter().any(|r| r == "POST /v1/batches") {
        assert!(tokio::time::Instant::now() < guard, "the enrich job never asked for a batch");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    engine.cancel(sub.id.as_str()).await.unwrap();
    assert!(fake.batches().is_empty(), "the cancel looked before the batch existed");
    fake.release_batch_creation();
    let guard = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let batches = fake.batches();
        if batches.len() == 1 && batches[0].status == BatchStatus::Cancelled {
            break;
        }
        assert!(tokio::time::Instant::now() < guard, "the batch made after the cancel kept running: {batches:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.shutdown().await;
    assert_eq!(app.state(sub.id.as_str()).await.status, DocumentStatus::Cancelled);
}

/// Deleting a document whose book is in a provider's batch cancels the batch, as a cancel does.
async fn deleting_a_document_cancels_its_batch(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let fake = FakeOpenAi::start(Arc::new(plain_model)).await;
    let (engine, sub, _) = submitted_with_a_deadline(&app, &fake).await;
    let worker = Worker::new(engine.clone(), WorkerOptions { exit_when_idle: false, ..app.worker_options() }).run();
    waiting_on_a_batch(&app).await;
    engine.delete_document(sub.id.as_str(), None).await.unwrap();
    assert_eq!(fake.batches()[0].status, BatchStatus::Cancelled, "told before the deletion returns");
    worker.shutdown().await;
    app.drain(&engine).await;
    assert!(app.store.document(sub.id.as_str()).await.unwrap().is_none());
    assert_eq!(fake.batches_created(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cancels_the_batch_sqlite() {
    deleting_a_document_cancels_its_batch(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_cancels_the_batch_postgres() {
    deleting_a_document_cancels_its_batch(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_batch_is_cancelled_sqlite() {
    a_batch_created_as_the_document_is_cancelled_is_cancelled_too(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_batch_is_cancelled_postgres() {
    a_batch_created_as_the_document_is_cancelled_is_cancelled_too(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_cancels_the_batch_sqlite() {
    cancelling_a_document_cancels_its_batch(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_cancels_the_batch_postgres() {
    cancelling_a_document_cancels_its_batch(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_by_deadline_sqlite() {
    a_deadline_sends_the_book_by_batch_and_the_job_waits(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_by_deadline_postgres() {
    a_deadline_sends_the_book_by_batch_and_the_job_waits(Backend::Postgres).await;
}

/// Each project's choice of analyzer is recorded on the events that start a run and followed by `enrich`: one
/// project's books go to the model, another's stay offline; a reprocess follows the project's current choice; a
/// choice this worker does not offer fails the document with the reason, and changing the choice mends it.
async fn each_project_chooses_its_analyzer(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let fake = FakeOpenAi::start(Arc::new(plain_model)).await;
    let provider = ProviderOptions::new("fake", fake.base_url(), "fake-model");
    let model = LlmAnalyzer::new(Client::new(provider).unwrap(), LlmOptions::default());
    let analyzers = bindery_stages::Analyzers::default().with("model", Arc::new(model)).unwrap();
    let engine = Engine::new(
        app.store.clone(),
        app.engine.blobs().clone(),
        bindery_stages::registry_with(analyzers),
        options(""),
    );
    let owner = User {
        id: "u1".into(),
        email: "owner@example.org".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$salt$hash".into(),
        admin: false,
        created_ms: 0,
    };
    app.store.create_user(&owner).await.unwrap().unwrap();
    let project = |id: &str, analyzer: Option<&str>| Project {
        id: id.into(),
        name: id.into(),
        created_ms: 0,
        analyzer: analyzer.map(str::to_owned),
    };
    app.store.create_project(&project("storyboards", Some("model")), "u1").await.unwrap();
    app.store.create_project(&project("reading", None), "u1").await.unwrap();

    let submit = |p: &str| SubmitOptions { project: Some(p.into()), ..Default::default() };
    let modelled = engine.submit_with("book.md", &sample_markdown()[..], &submit("storyboards")).await.unwrap();
    let offline = engine.submit_with("book.md", &sample_markdown()[..], &submit("reading")).await.unwrap();
    app.drain(&engine).await;
    let (m, o) = (app.state(modelled.id.as_str()).await, app.state(offline.id.as_str()).await);
    assert_ready(&m);
    assert_ready(&o);
    assert_eq!((m.analyzer.as_deref(), o.analyzer.as_deref()), (Some("model"), None), "recorded at upload");
    let uploaded = &app.store.read_stream(m.id.as_str(), 0, 1).await.unwrap()[0];
    assert_eq!(uploaded.data["analyzer"], "model", "the choice is on document.uploaded itself");
    assert_eq!(m.results["enrich"]["analyzer"], "fake:fake-model");
    assert_eq!(o.results["enrich"]["analyzer"], "offline");
    let calls = fake.chat_calls();
    assert!(calls >= 2, "the model analysed the storyboard project's book");

    // The operator removed the analyzer the project still names: the reprocess fails, saying why.
    app.store.update_project(&project("storyboards", Some("retired"))).await.unwrap();
    engine.reprocess(m.id.as_str(), None).await.unwrap();
    app.drain(&engine).await;
    let failed = app.state(m.id.as_str()).await;
    assert_eq!(failed.status, DocumentStatus::Failed);
    let error = failed.error.unwrap_or_default();
    assert!(error.contains("\"retired\"") && error.contains("model, offline"), "{error}");

    // Back to the instance's default: the next run records no choice and runs offline.
    app.store.update_project(&project("storyboards", None)).await.unwrap();
    engine.reprocess(m.id.as_str(), None).await.unwrap();
    app.drain(&engine).await;
    let again = app.state(m.id.as_str()).await;
    assert_ready(&again);
    assert_eq!((again.analyzer.as_deref(), again.results["enrich"]["analyzer"].as_str()), (None, Some("offline")));
    assert_eq!(fake.chat_calls(), calls, "neither later run asked the model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_project_analyzer_sqlite() {
    each_project_chooses_its_analyzer(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_project_analyzer_postgres() {
    each_project_chooses_its_analyzer(Backend::Postgres).await;
}
