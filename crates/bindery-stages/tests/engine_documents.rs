//! A document's lifecycle after upload, on both back ends: the deletion saga
//! (shared blobs kept, compensation, forward recovery, a crash in the middle)
//! and reprocessing.

// The engine's test harness, run here on the book's pipeline.
#[path = "../../bindery-engine/tests/common/mod.rs"]
mod common;

/// The pipelines `common::TestApp` runs: the book's.
fn registry() -> bindery_pipeline::Registry {
    bindery_stages::registry()
}

use bindery_core::event;
use bindery_core::{DocumentState, DocumentStatus, JobState};
use bindery_engine::delete::DELETE_KIND;
use bindery_engine::worker::{Worker, WorkerOptions};
use bindery_engine::Engine;
use bindery_store::testing;
use common::{assert_ready, sample_markdown, Backend, TestApp};
use std::time::Duration;

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

on_both!(
    deletion_keeps_blobs_another_document_references,
    deleting_a_pdf_leaves_no_blob_behind_thumbnails_included,
    failure_before_the_point_of_no_return_is_compensated,
    failing_blob_deletion_goes_dead_and_says_so,
    a_crash_mid_saga_resumes_where_it_stopped,
    reprocess_runs_the_pipeline_again_under_the_same_id,
);

/// Uploads `bytes` to `project` and runs the worker until idle.
async fn ready_in(app: &TestApp, project: &str, bytes: &[u8]) -> DocumentState {
    let sub = app.engine.submit_reader("book.md", bytes, None, Some(project)).await.unwrap();
    app.drain(&app.engine).await;
    let s = app.state(sub.id.as_str()).await;
    assert_ready(&s);
    s
}

async fn hits(app: &TestApp, doc: &str) -> usize {
    app.store.search("fox", Some(&[doc.to_owned()]), 50).await.unwrap().len()
}

async fn exists(app: &TestApp, key: &str) -> bool {
    app.engine.blobs().head(key).await.unwrap().is_some()
}

async fn deletion_keeps_blobs_another_document_references(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let a = ready_in(&app, "p1", &sample_markdown()).await;
    let b2 = ready_in(&app, "p2", &sample_markdown()).await;
    assert_ne!(a.id, b2.id, "the same file in two projects is two documents");
    assert_eq!(a.blob_key, b2.blob_key, "sharing one original");
    assert_eq!(app.store.blob_holders(&a.blob_key).await.unwrap(), {
        let mut both = vec![a.id.clone(), b2.id.clone()];
        both.sort();
        both
    });
    assert!(hits(&app, &a.id).await > 0);

    assert!(app.engine.delete_document(&a.id, Some("u1")).await.unwrap().started);
    let deleting = app.state(&a.id).await;
    assert_eq!(deleting.status, DocumentStatus::Deleting, "reads still work while deleting");
    assert!(!app.engine.delete_document(&a.id, None).await.unwrap().started, "a second delete is harmless");
    app.drain(&app.engine).await;

    assert!(app.store.document(&a.id).await.unwrap().is_none());
    assert_eq!(hits(&app, &a.id).await, 0);
    let types = app.types(&a.id).await;
    let tail: Vec<&str> = types.iter().rev().take(3).rev().map(String::as_str).collect();
    assert_eq!(tail, [event::DOCUMENT_DELETING, event::DOCUMENT_PURGING, event::DOCUMENT_DELETED]);
    assert_eq!(types[0], event::DOCUMENT_UPLOADED, "the stream keeps its history");
    // What `b` references survives; what only `a` referenced is gone.
    let b_now = app.state(&b2.id).await;
    assert_ready(&b_now);
    let b_keys = b_now.blob_keys();
    for key in a.blob_keys() {
        assert_eq!(exists(&app, &key).await, b_keys.contains(&key), "{key}");
    }
    assert_eq!(app.store.blob_holders(&b2.blob_key).await.unwrap(), vec![b2.id.clone()]);
    let deleted = app.store.read_stream(&a.id, 0, 1000).await.unwrap().pop().unwrap();
    assert!(deleted.data["kept"].as_array().unwrap().contains(&serde_json::json!(a.blob_key)), "{}", deleted.data);

    // The last holder's deletion frees everything.
    app.engine.delete_document(&b2.id, None).await.unwrap();
    app.drain(&app.engine).await;
    for key in b_now.blob_keys() {
        assert!(!exists(&app, &key).await, "{key} is deleted with its last document");
    }
    assert!(app.store.blob_holders(&b2.blob_key).await.unwrap().is_empty());
    let jobs = app.store.jobs(Some(JobState::Completed), 0, 100).await.unwrap();
    assert_eq!(jobs.iter().filter(|j| j.kind == DELETE_KIND).count(), 2);

    // The same bytes uploaded again bring the document back under its id, as a new run.
    let again = ready_in(&app, "p1", &sample_markdown()).await;
    assert_eq!(again.id, a.id);
    assert!(again.run > 1 && exists(&app, &again.blob_key).await);
    assert!(hits(&app, &again.id).await > 0);
}

/// Every key in blob storage.
async fn stored_keys(app: &TestApp) -> Vec<String> {
    app.engine.blobs().list_keys("").await.unwrap()
}

/// A PDF's thumbnails are blobs of their own, listed in a manifest: deleting
/// the book deletes them with its original and artifacts, and the storage
/// is empty again.
async fn deleting_a_pdf_leaves_no_blob_behind_thumbnails_included(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let pdf = app.dir.path().join("page.pdf");
    bindery_pdf::fixtures::damaged_stream_pdf(&pdf, false);
    let sub = app.engine.submit(&pdf).await.unwrap();
    app.drain(&app.engine).await;
    let doc = app.state(sub.id.as_str()).await;
    assert_ready(&doc);
    assert_eq!(doc.results["raster"]["pages"], 1);
    let stored = stored_keys(&app).await;
    // The original, the stages' artifacts and two thumbnails (two widths of the one page), at least.
    assert!(stored.len() >= doc.artifacts.len() + 3, "{stored:?}");
    app.engine.delete_document(&doc.id, None).await.unwrap();
    app.drain(&app.engine).await;
    assert_eq!(stored_keys(&app).await, Vec::<String>::new(), "every blob went with the book");
}

async fn failure_before_the_point_of_no_return_is_compensated(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let a = ready_in(&app, "p1", &sample_markdown()).await;
    let failing = app.with_options(common::options("delete=permanent"));
    failing.delete_document(&a.id, None).await.unwrap();
    app.drain(&failing).await;

    let s = app.state(&a.id).await;
    assert_eq!(s.status, DocumentStatus::Ready, "back to its previous status");
    assert!(s.deletion.is_none());
    assert!(s.deletion_error.as_deref().unwrap().contains("injected permanent failure"), "{:?}", s.deletion_error);
    let events = app.store.read_stream(&a.id, 0, 1000).await.unwrap();
    let failed = events.iter().find(|e| e.ty == event::DOCUMENT_DELETION_FAILED).expect("the reason is an event");
    assert_eq!(failed.data["compensated"], true);
    assert!(!events.iter().any(|e| e.ty == event::DOCUMENT_PURGING || e.ty == event::DOCUMENT_DELETED));
    // The index rows removed by step 2 are back (the index stage ran again), and no blob was touched.
    assert!(hits(&app, &a.id).await > 0, "search finds the document again");
    for key in s.blob_keys() {
        assert!(exists(&app, &key).await);
    }
    let dead = app.store.jobs(Some(JobState::Dead), 0, 10).await.unwrap();
    assert_eq!(dead.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(), [DELETE_KIND]);
    // The document can still be deleted afterwards.
    app.engine.delete_document(&a.id, None).await.unwrap();
    app.drain(&app.engine).await;
    assert!(app.store.document(&a.id).await.unwrap().is_none());
}

async fn failing_blob_deletion_goes_dead_and_says_so(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let a = ready_in(&app, "p1", &sample_markdown()).await;
    let failing = app.with_options(common::options("delete.blobs=fail"));
    failing.delete_document(&a.id, None).await.unwrap();
    app.drain(&failing).await;

    let s = app.state(&a.id).await;
    assert_eq!(s.status, DocumentStatus::Deleting, "past the point of no return the document stays deleting");
    assert!(s.deletion.as_ref().unwrap().purging);
    let error = s.deletion_error.clone().unwrap();
    assert!(error.contains("gave up after 3 attempts"), "{error}");
    let dead = app.store.jobs(Some(JobState::Dead), 0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].kind.as_str(), dead[0].attempt), (DELETE_KIND, 3), "retried with backoff, then dead");
    assert_eq!(hits(&app, &a.id).await, 0);

    // An operator retries the dead job once storage works again: the deletion finishes.
    let report = app.engine.retry_job(dead[0].id).await.unwrap();
    assert!(report.documents.is_empty(), "retrying a deletion reopens no document");
    app.drain(&app.engine).await;
    assert!(app.store.document(&a.id).await.unwrap().is_none());
    assert!(!exists(&app, &a.blob_key).await);
}

async fn a_crash_mid_saga_resumes_where_it_stopped(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = match b {
        Backend::Sqlite => testing::sqlite_url(dir.path()),
        Backend::Postgres => match testing::postgres_url().await {
            Some(u) => u,
            None => return,
        },
    };
    let blobs_at = dir.path().join("blobs").to_str().unwrap().to_owned();
    let store = bindery_store::connect(&url).await.unwrap();
    let blobs = bindery_blob::BlobStore::from_url(&blobs_at).unwrap();
    let engine = Engine::new(store.clone(), blobs, bindery_stages::registry(), common::options(""));
    let app = TestApp { engine, store, dir };
    let a = ready_in(&app, "p1", &sample_markdown()).await;
    app.engine.delete_document(&a.id, None).await.unwrap();

    // A worker in its own runtime takes the deletion past its point of no return and hangs before deleting blobs;
    // then its runtime is dropped, which kills every task of it at once, as SIGKILL would.
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let crashed = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let store = bindery_store::connect(&url).await.unwrap();
            let blobs = bindery_blob::BlobStore::from_url(&blobs_at).unwrap();
            let slow = common::options("delete.blobs=sleep(600000)");
            let engine = Engine::new(store, blobs, bindery_stages::registry(), slow);
            let opts = WorkerOptions {
                id: "doomed".into(),
                lease: Duration::from_secs(1),
                heartbeat: Duration::from_millis(200),
                poll: Duration::from_millis(50),
                ..WorkerOptions::default()
            };
            let _worker = Worker::new(engine, opts).run();
            let _ = tokio::task::spawn_blocking(move || stopped.recv()).await;
        });
        rt.shutdown_background();
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !app.state(&a.id).await.deletion.is_some_and(|d| d.purging) {
        assert!(tokio::time::Instant::now() < deadline, "the first worker reaches the point of no return");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    crashed.join().unwrap();
    assert!(exists(&app, &a.blob_key).await, "the crash came before any blob was deleted");

    // A new worker rescues the job once its lease expires and finishes the saga from step 4. A worker that starts
    // while the dead one's lease still runs finds nothing to do and exits, so workers are started until one has
    // finished the deletion.
    let mut opts = app.worker_options();
    opts.lease = Duration::from_millis(600);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while app.store.document(&a.id).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "a new worker finishes the deletion");
        let handle = Worker::new(app.engine.clone(), opts.clone()).run();
        tokio::time::timeout(Duration::from_secs(60), handle.join()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!exists(&app, &a.blob_key).await);
    let types = app.types(&a.id).await;
    assert_eq!(types.iter().filter(|t| *t == event::DOCUMENT_PURGING).count(), 1, "steps 1 to 3 ran once");
    assert_eq!(types.last().map(String::as_str), Some(event::DOCUMENT_DELETED));
    let jobs = app.store.jobs(None, 0, 100).await.unwrap();
    let job = jobs.iter().find(|j| j.kind == DELETE_KIND).unwrap();
    // Rescued after the crash without losing its attempt: the crash was the worker's, not the job's.
    assert_eq!((job.state, job.attempt, job.orphaned), (JobState::Completed, 1, 1));
}

async fn reprocess_runs_the_pipeline_again_under_the_same_id(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let first = ready_in(&app, "p1", &sample_markdown()).await;
    let r = app.engine.reprocess(&first.id, Some("u1")).await.unwrap();
    assert_eq!(r.run, first.version + 1);
    let s = app.state(&first.id).await;
    assert_eq!((s.status, s.run, s.results.len(), s.progress().done), (DocumentStatus::Processing, r.run, 0, 0));
    let again = app.engine.reprocess(&first.id, None).await.unwrap_err();
    assert!(again.to_string().contains("is processing"), "{again}");
    app.drain(&app.engine).await;

    let s = app.state(&first.id).await;
    assert_ready(&s);
    assert_eq!((s.id.as_str(), s.run), (first.id.as_str(), r.run));
    assert_eq!(s.results, first.results, "the same original gives the same results");
    let types = app.types(&s.id).await;
    assert_eq!(types.iter().filter(|t| *t == event::DOCUMENT_READY).count(), 2);
    assert_eq!(types.iter().filter(|t| *t == event::DOCUMENT_REPROCESSING).count(), 1);
    let jobs = app.store.jobs(None, 0, 100).await.unwrap();
    let stages = s.stage_order.len();
    assert_eq!(jobs.len(), 2 * stages, "the new run's jobs were not dropped as duplicates");
    assert!(jobs.iter().all(|j| j.state == JobState::Completed));
    assert!(hits(&app, &s.id).await > 0);
}
