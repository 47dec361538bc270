//! The engine runs any pipeline: a two-stage pipeline declared here, in the
//! test alone, goes end to end through submit, the worker, a retried
//! failure, a stage that panics, and deletion, and a document finishes on
//! the pipeline version it started with, on both back ends. Nothing of the
//! book is registered, so the engine's behaviour here owes nothing to the
//! book's stages.

mod common;

use bindery_blob::BlobStore;
use bindery_core::retry::RetryPolicy;
use bindery_core::{event, DocumentState, DocumentStatus};
use bindery_engine::worker::{Worker, WorkerOptions};
use bindery_engine::{Engine, EngineOptions, Failpoints};
use bindery_pipeline::Registry;
use bindery_store::{testing, DynStore};
use common::notes::registry_2;
use serde_json::json;
use std::time::Duration;

/// The pipelines `common::TestApp` would run (this file builds its own engines).
fn registry() -> Registry {
    common::notes::registry()
}

fn engine(store: &DynStore, blobs: &BlobStore, failpoints: &str) -> Engine {
    engine_with(store, blobs, failpoints, registry())
}

fn engine_with(store: &DynStore, blobs: &BlobStore, failpoints: &str, registry: Registry) -> Engine {
    let options = EngineOptions {
        retry: RetryPolicy { base: Duration::from_millis(10), max: Duration::from_millis(100), jitter: 0.0 },
        max_attempts: 3,
        failpoints: Failpoints::parse(failpoints).unwrap(),
    };
    Engine::new(store.clone(), blobs.clone(), registry, options)
}

/// Runs a worker until no job is left.
async fn drain(engine: &Engine) {
    let options = WorkerOptions {
        concurrency: 2,
        poll: Duration::from_millis(20),
        heartbeat: Duration::from_millis(200),
        exit_when_idle: true,
        ..WorkerOptions::default()
    };
    let worker = Worker::new(engine.clone(), options).run();
    tokio::time::timeout(Duration::from_secs(60), worker.join()).await.expect("the worker drains within a minute");
}

async fn submit(engine: &Engine, dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    engine.submit(&path).await.unwrap().id.as_str().to_owned()
}

async fn state(store: &DynStore, id: &str) -> DocumentState {
    store.document(id).await.unwrap().expect("the document exists")
}

/// Every blob a document holds: its upload and its artifacts.
fn blobs_of(doc: &DocumentState) -> Vec<String> {
    std::iter::once(doc.blob_key.clone()).chain(doc.artifacts.iter().map(|a| a.key.clone())).collect()
}

async fn a_pipeline_declared_in_a_test_runs_end_to_end(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(store) = open(backend, dir.path()).await else { return };
    let blobs = BlobStore::from_url(dir.path().join("blobs").to_str().unwrap()).unwrap();

    // The first attempt of `count` fails as a crashed call would; the retry finishes the document.
    let flaky = engine(&store, &blobs, "count=fail(1)");
    let kept = submit(&flaky, dir.path(), "kept.txt", "three short words").await;
    let deleted = submit(&flaky, dir.path(), "deleted.txt", "four words go here").await;
    drain(&flaky).await;
    for id in [&kept, &deleted] {
        let doc = state(&store, id).await;
        assert_eq!(doc.status, DocumentStatus::Ready, "{:?}", doc.error);
        assert_eq!(doc.pipeline, "notes");
        assert_eq!(doc.media_type, "text/plain");
    }
    let doc = state(&store, &kept).await;
    assert_eq!(doc.results["count"]["words"], json!(3));
    assert_eq!(doc.results["shout"]["words"], json!(3));
    assert_eq!(&blobs.get_bytes(&doc.artifacts[1].key, 100).await.unwrap()[..], b"THREE SHORT WORDS");
    // Event counts follow from the pipeline: uploaded, a failed attempt, each stage once, ready.
    let stages = registry().pipeline("notes").unwrap().stages().len();
    let types: Vec<String> = store.read_stream(&kept, 0, 100).await.unwrap().into_iter().map(|e| e.ty).collect();
    assert_eq!(types.iter().filter(|t| *t == event::STAGE_COMPLETED).count(), stages);
    assert_eq!(types.first().map(String::as_str), Some(event::DOCUMENT_UPLOADED));
    assert_eq!(types.last().map(String::as_str), Some(event::DOCUMENT_READY));
    assert_eq!(types.len(), stages + 3, "{types:?}");

    // A stage that panics fails its own document, with a reason; the worker carries on with the next.
    let broken = engine(&store, &blobs, "shout=panic");
    let first = submit(&broken, dir.path(), "first.txt", "one").await;
    let second = submit(&broken, dir.path(), "second.txt", "one two").await;
    drain(&broken).await;
    for id in [&first, &second] {
        let doc = state(&store, id).await;
        assert_eq!(doc.status, DocumentStatus::Failed);
        assert!(doc.error.as_deref().unwrap_or_default().contains("internal error"), "{:?}", doc.error);
        assert_eq!(doc.results["count"]["words"], json!(if id == &first { 1 } else { 2 }));
    }

    // Deleting a document removes every blob it alone held, and nothing of the others.
    let gone = blobs_of(&state(&store, &deleted).await);
    let mut others = Vec::new();
    for id in [&kept, &first, &second] {
        others.extend(blobs_of(&state(&store, id).await));
    }
    assert_eq!(gone.len(), 3, "the upload and two artifacts: {gone:?}");
    let found = |query: &'static str| {
        let store = store.clone();
        async move { store.search(query, None, 10).await.unwrap().into_iter().map(|h| h.document).collect::<Vec<_>>() }
    };
    assert_eq!(found("four words").await, std::slice::from_ref(&deleted), "shout indexed the document");
    flaky.delete_document(&deleted, None).await.unwrap();
    drain(&flaky).await;
    assert!(found("four words").await.is_empty(), "shout forgot the deleted document's rows");
    assert_eq!(found("three short").await, std::slice::from_ref(&kept), "and only those");
    assert!(store.document(&deleted).await.unwrap().is_none(), "the document is gone");
    for key in &gone {
        assert_eq!(blobs.head(key).await.unwrap(), None, "{key} outlived its document");
    }
    for key in &others {
        assert!(blobs.head(key).await.unwrap().is_some(), "{key} belongs to a live document");
    }
}

/// A document runs to the end on the pipeline version it started with: one
/// in flight when the process moves to version 2 finishes on version 1 if
/// the process keeps it, and fails saying so if it does not; reprocessing
/// moves it to version 2.
async fn a_document_finishes_on_the_version_it_started_with(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some(store) = open(backend, dir.path()).await else { return };
    let blobs = BlobStore::from_url(dir.path().join("blobs").to_str().unwrap()).unwrap();
    // Submitted on version 1, nothing run yet; then a process that runs version 2 and keeps version 1.
    let old = engine(&store, &blobs, "");
    let kept = submit(&old, dir.path(), "kept.txt", "Kept On One").await;
    let both = engine_with(&store, &blobs, "", registry_2(true));
    let new = submit(&both, dir.path(), "new.txt", "Started On Two").await;
    drain(&both).await;
    let kept = state(&store, &kept).await;
    assert_eq!((kept.status, kept.pipeline_version), (DocumentStatus::Ready, 1), "{:?}", kept.error);
    assert!(!kept.results.contains_key("whisper"), "version 1 has no whisper stage");
    let new = state(&store, &new).await;
    assert_eq!((new.status, new.pipeline_version), (DocumentStatus::Ready, 2), "{:?}", new.error);
    assert!(new.results.contains_key("whisper"));

    // A process without version 1 fails such a document with the reason; reprocessing moves it to version 2.
    let dropped = submit(&old, dir.path(), "dropped.txt", "Dropped From One").await;
    let two_only = engine_with(&store, &blobs, "", registry_2(false));
    drain(&two_only).await;
    let doc = state(&store, &dropped).await;
    assert_eq!(doc.status, DocumentStatus::Failed);
    let error = doc.error.unwrap_or_default();
    assert!(error.contains("version 1 of the notes pipeline") && error.contains("reprocess it"), "{error}");
    two_only.reprocess(&dropped, None).await.unwrap();
    drain(&two_only).await;
    let doc = state(&store, &dropped).await;
    assert_eq!((doc.status, doc.pipeline_version), (DocumentStatus::Ready, 2), "{:?}", doc.error);
    let whispered = doc.artifacts.iter().find(|a| a.kind == "whispered").expect("version 2 ran");
    assert_eq!(&blobs.get_bytes(&whispered.key, 100).await.unwrap()[..], b"dropped from one");
}

/// A fresh store on `backend`; `None` for PostgreSQL when it is not configured (outside CI).
async fn open(backend: Backend, dir: &std::path::Path) -> Option<DynStore> {
    match backend {
        Backend::Sqlite => Some(bindery_store::connect(&testing::sqlite_url(dir)).await.unwrap()),
        Backend::Postgres => testing::postgres().await,
    }
}

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

on_both!(a_pipeline_declared_in_a_test_runs_end_to_end, a_document_finishes_on_the_version_it_started_with);
