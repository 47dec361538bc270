//! The engine end to end on the book pipeline (with text inputs), on both
//! back ends.

// The engine's test harness, run here on the book's pipeline.
#[path = "../../bindery-engine/tests/common/mod.rs"]
mod common;

/// The pipelines `common::TestApp` runs: the book's.
fn registry() -> bindery_pipeline::Registry {
    bindery_stages::registry()
}

use bindery_core::event;
use bindery_core::{DocumentStatus, JobState};
use bindery_engine::worker::Worker;
use common::{assert_ready, corpus, sample_markdown, Backend, TestApp};
use serde_json::json;
use std::time::Duration;

/// Stages of the book pipeline, as the pipeline declares them.
fn stages() -> usize {
    bindery_stages::book::pipeline().stages().len()
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

on_both!(
    text_document_reaches_ready_once,
    same_bytes_same_document_no_second_run,
    fails_twice_then_succeeds,
    always_failing_stage_goes_dead_and_retry_revives_it,
    bad_input_fails_permanently_with_a_clear_reason,
    panicking_stage_does_not_kill_the_worker,
    cancel_stops_a_document,
    expired_lease_is_rescued,
    a_stopped_worker_costs_its_other_jobs_nothing,
    a_job_that_stops_its_worker_alone_fails_at_once,
    replay_rebuilds_identical_projections,
);

async fn text_document_reaches_ready_once(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let s = app.process("book.md", &sample_markdown()).await;
    assert_ready(&s);
    assert_eq!(s.results["structure"]["titles"], json!(["First", "Second"]));
    assert_eq!(s.results["structure"]["words"], json!(2 * 64), "body words; headings are titles");
    assert_eq!(s.results["extract"]["language"], json!("en"));
    assert_eq!(
        app.types(&s.id).await,
        std::iter::once(event::DOCUMENT_UPLOADED)
            .chain(std::iter::repeat_n(event::STAGE_COMPLETED, stages()))
            .chain([event::DOCUMENT_READY])
            .collect::<Vec<_>>()
    );
    let p = s.progress();
    assert_eq!((p.done, p.total, p.percent), (stages(), stages(), 100.0));
    let jobs = app.store.jobs(None, 0, 100).await.unwrap();
    assert_eq!(jobs.len(), stages());
    assert!(jobs.iter().all(|j| j.state == JobState::Completed && j.attempt == 1));
    // Artifacts are content addressed and readable.
    let text = s.artifacts.iter().find(|a| a.kind == "text").unwrap();
    assert!(text.key.starts_with("sha256/"));
    assert_eq!(app.engine.blobs().head(&text.key).await.unwrap(), Some(text.bytes));
}

async fn same_bytes_same_document_no_second_run(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let first = app.engine.submit(&app.file("a.md", &sample_markdown())).await.unwrap();
    let again = app.engine.submit(&app.file("copy.md", &sample_markdown())).await.unwrap();
    assert!(first.created && !again.created);
    assert_eq!(first.id, again.id);
    app.drain(&app.engine).await;
    assert_eq!(app.store.jobs(None, 0, 100).await.unwrap().len(), stages());
    assert_eq!(app.types(first.id.as_str()).await.len(), stages() + 2);
}

async fn fails_twice_then_succeeds(b: Backend) {
    let Some(app) = TestApp::spawn(b, "enrich=fail(2)").await else { return };
    let s = app.process("a.md", &sample_markdown()).await;
    assert_ready(&s);
    assert_eq!(s.stages["enrich"].failures, 2);
    let types = app.types(&s.id).await;
    assert_eq!(types.iter().filter(|t| *t == event::STAGE_FAILED).count(), 2);
    assert_eq!(types.iter().filter(|t| *t == event::DOCUMENT_READY).count(), 1);
    let count = app.store.jobs(None, 0, 10).await.unwrap().into_iter().find(|j| j.queue == "enrich").unwrap();
    assert_eq!((count.state, count.attempt), (JobState::Completed, 3));
}

async fn always_failing_stage_goes_dead_and_retry_revives_it(b: Backend) {
    let Some(app) = TestApp::spawn(b, "structure=fail").await else { return };
    let s = app.process("a.md", &sample_markdown()).await;
    assert_eq!(s.status, DocumentStatus::Failed);
    let error = s.error.clone().unwrap();
    assert!(error.contains("structure") && error.contains("gave up after 3 attempts"), "{error}");
    let dead = app.store.jobs(Some(JobState::Dead), 0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    let last = dead[0].last_error.as_deref().unwrap();
    assert!(last.contains("injected failure") && last.contains("gave up after 3 attempts"), "{last}");
    // The operator fixes the cause (here: a process without the fail point)
    // and retries the dead job.
    let fixed = app.with_options(common::options(""));
    let report = fixed.retry_job(dead[0].id).await.unwrap();
    assert_eq!((report.jobs, report.documents.clone()), (1, vec![s.id.clone()]));
    assert_eq!(app.state(&s.id).await.status, DocumentStatus::Processing);
    app.drain(&fixed).await;
    let s = app.state(&s.id).await;
    assert_ready(&s);
    assert!(s.error.is_none());
    assert!(fixed.retry_job(dead[0].id).await.is_err(), "a completed job cannot be retried");
}

async fn bad_input_fails_permanently_with_a_clear_reason(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let s = app.process("bad.txt", b"caf\xe9 au lait").await;
    assert_eq!(s.status, DocumentStatus::Failed);
    assert_eq!(s.error.as_deref(), Some("stage extract: the file is not valid UTF-8 (first bad byte at offset 3)"));
    assert_eq!(app.store.jobs(None, 0, 10).await.unwrap()[0].attempt, 1, "permanent errors are not retried");
    let empty = app.process("empty.txt", b"").await;
    assert_eq!(empty.error.as_deref(), Some("stage ingest: the file is empty"));
    // A PDF by its structure (header, binary comment, first object), whatever its name, cut before its end.
    let pdf = app.process("fake.txt", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n").await;
    assert_eq!(pdf.error.as_deref(), Some("stage extract: the PDF is truncated: it has no end-of-file marker"));
    let html = app.process("page.pdf", b"<html><body>hi</body></html>").await;
    assert_eq!(html.error.as_deref(), Some("stage ingest: the file is named .pdf but its first bytes look like HTML"));
    // An ID3v2.4 tag: version, revision, no flags, a synchsafe size, then the audio.
    let audio = app.process("song.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x0arest").await;
    assert_eq!(audio.error.as_deref(), Some("stage ingest: MP3 files are not supported"));
    // Nothing else is lost: a good document still goes through.
    assert_ready(&app.process("ok.md", &sample_markdown()).await);
}

async fn panicking_stage_does_not_kill_the_worker(b: Backend) {
    let Some(app) = TestApp::spawn(b, "enrich=panic").await else { return };
    let s = app.process("a.md", &sample_markdown()).await;
    assert_eq!(s.status, DocumentStatus::Failed);
    assert_eq!(
        s.error.as_deref(),
        Some(
            "stage enrich: Bindery stopped on an internal error in this stage (a bug, logged by the worker); retry \
             the document once Bindery is updated"
        )
    );
    let jobs = app.store.jobs(None, 0, 100).await.unwrap();
    let enrich = jobs.iter().find(|j| j.payload["stage"] == "enrich").expect("the enrich job");
    assert_eq!(enrich.attempt, 1, "a panic is not retried: the same document would meet the same bug");
}

async fn cancel_stops_a_document(b: Backend) {
    let Some(app) = TestApp::spawn(b, "structure=sleep(30000)").await else { return };
    let sub = app.engine.submit(&app.file("a.md", &sample_markdown())).await.unwrap();
    // A long lease: the worker must notice the cancellation through its
    // heartbeat, abort the stage, and then find itself idle.
    let mut opts = app.worker_options();
    opts.lease = Duration::from_secs(60);
    let handle = Worker::new(app.engine.clone(), opts).run();
    // Wait until `structure` is running, then cancel.
    for _ in 0..500 {
        let running = app.store.jobs(Some(JobState::Running), 0, 10).await.unwrap();
        if running.iter().any(|j| j.queue == "structure") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = app.engine.cancel(sub.id.as_str()).await.unwrap();
    assert_eq!(report.jobs, 1);
    // The aborted job no longer counts as pending, so the worker exits by
    // itself well before the stage's 30 s sleep or the lease would end.
    tokio::time::timeout(Duration::from_secs(20), handle.join())
        .await
        .expect("the worker goes idle after the cancellation");
    let s = app.state(sub.id.as_str()).await;
    assert_eq!(s.status, DocumentStatus::Cancelled);
    assert!(!s.stages["structure"].completed, "the cancelled stage never completes");
    assert_eq!(app.store.jobs(Some(JobState::Cancelled), 0, 10).await.unwrap().len(), 1);
    assert!(app.engine.cancel(sub.id.as_str()).await.is_err(), "already cancelled");
}

async fn expired_lease_is_rescued(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let sub = app.engine.submit(&app.file("a.md", &sample_markdown())).await.unwrap();
    // A worker that claims `extract` and dies without a heartbeat.
    let now = bindery_core::time::now_ms();
    let lost = app.store.claim("ghost", &[], 1, now + 300, now).await.unwrap();
    assert_eq!(lost.len(), 1);
    let mut opts = app.worker_options();
    opts.lease = Duration::from_millis(600);
    let handle = Worker::new(app.engine.clone(), opts).run();
    tokio::time::timeout(Duration::from_secs(30), handle.join()).await.unwrap();
    let s = app.state(sub.id.as_str()).await;
    assert_ready(&s);
    // The lost attempt is given back: the stop may have been another job's doing.
    let extract = app.store.job(lost[0].id).await.unwrap().unwrap();
    assert_eq!((extract.state, extract.attempt, extract.orphaned), (JobState::Completed, 1, 1));
    assert_eq!(app.types(sub.id.as_str()).await.iter().filter(|t| *t == event::STAGE_COMPLETED).count(), stages());
}

/// A worker dies holding three jobs, each allowed a single attempt. Only one of them could have been the cause, so
/// none is charged: each runs again alone (one after the other, never beside another job), and all three
/// documents end ready.
async fn a_stopped_worker_costs_its_other_jobs_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b, "extract=sleep(300)").await else { return };
    let mut ids = Vec::new();
    for n in 0..3 {
        let content = format!("# Part {n}\n\n{}", String::from_utf8(sample_markdown()).unwrap());
        ids.push(app.engine.submit(&app.file(&format!("{n}.md"), content.as_bytes())).await.unwrap().id);
    }
    let now = bindery_core::time::now_ms();
    let lost = app.store.claim("ghost", &[], 10, now + 300, now).await.unwrap();
    assert_eq!(lost.len(), 3, "the three extract jobs");
    let mut opts = app.worker_options();
    opts.lease = Duration::from_millis(600);
    tokio::time::timeout(Duration::from_secs(60), Worker::new(app.engine.clone(), opts).run().join()).await.unwrap();
    for id in &ids {
        assert_ready(&app.state(id.as_str()).await);
    }
    let mut finished = Vec::new();
    for job in &lost {
        let j = app.store.job(job.id).await.unwrap().unwrap();
        assert_eq!((j.state, j.attempt, j.orphaned), (JobState::Completed, 1, 1), "{j:?}");
        let events = app.store.read_stream(j.document.as_deref().unwrap(), 0, 100).await.unwrap();
        let done = events.iter().find(|e| e.ty == event::STAGE_COMPLETED && e.data["stage"] == "extract").unwrap();
        finished.push(done.time_ms);
    }
    // Each suspect sleeps 300 ms before its stage runs: run alone, they finish at least that far apart.
    finished.sort();
    assert!(finished.windows(2).all(|w| w[1] - w[0] >= 300), "suspects ran side by side: {finished:?}");
}

/// A job that was running when its worker stopped, then stopped its next worker while running alone, is what
/// stops workers: it fails at once, with a reason, and a document beside it is not touched.
async fn a_job_that_stops_its_worker_alone_fails_at_once(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let culprit = app.engine.submit(&app.file("culprit.md", &sample_markdown())).await.unwrap().id;
    let now = bindery_core::time::now_ms();
    let first = app.store.claim("ghost", &[], 1, now + 100, now).await.unwrap().remove(0);
    assert_eq!(app.store.rescue_expired(now + 101).await.unwrap().rescued, 1);
    let again = app.store.claim_suspect("ghost-2", &[], now + 200, now + 102).await.unwrap().unwrap();
    assert_eq!(again.id, first.id);
    let bystander =
        app.engine.submit(&app.file("bystander.md", b"# Alone\n\nA quiet book with a few words.")).await.unwrap().id;
    // Past the second lease, a worker's rescuer finds the culprit and fails it; the bystander is processed.
    tokio::time::sleep(Duration::from_millis(250)).await;
    app.drain(&app.engine).await;
    let failed = app.state(culprit.as_str()).await;
    assert_eq!(failed.status, DocumentStatus::Failed, "{failed:?}");
    let reason = failed.error.unwrap_or_default();
    assert!(reason.contains("stopped twice") && reason.contains("nothing else running"), "{reason}");
    let events = app.store.read_stream(culprit.as_str(), 0, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.ty == event::STAGE_FAILED).count(), 1);
    assert_eq!(app.store.job(first.id).await.unwrap().unwrap().state, JobState::Dead);
    assert_ready(&app.state(bystander.as_str()).await);
}

async fn replay_rebuilds_identical_projections(b: Backend) {
    let Some(app) = TestApp::spawn(b, "enrich=fail(1)").await else { return };
    let a = app.process("a.md", &sample_markdown()).await;
    let bad = app.process("b.txt", b"\xff").await;
    assert_eq!(app.engine.replay().await.unwrap(), 2);
    assert_eq!(app.state(&a.id).await, a);
    assert_eq!(app.state(&bad.id).await, bad);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_chapters() {
    let Some(app) = TestApp::spawn(Backend::Sqlite, "").await else { return };
    for (file, chapters, language) in [
        ("books/en-alice-in-wonderland.txt", 12, "en"),
        ("books/fr-tour-du-monde-80-jours.txt", 37, "fr"),
        ("books/fr-candide.txt", 30, "fr"),
    ] {
        let Some(path) = corpus(file) else { return };
        let sub = app.engine.submit(&path).await.unwrap();
        app.drain(&app.engine).await;
        let s = app.state(sub.id.as_str()).await;
        assert_ready(&s);
        assert_eq!(s.results["structure"]["chapters"], json!(chapters), "{file}: {}", s.results["structure"]["titles"]);
        assert_eq!(s.results["extract"]["language"], json!(language), "{file}");
    }
}
