//! The engine runs any pipeline: `notes`, a small pipeline the engine's
//! tests declare (`common/notes.rs`), goes end to end through submit, the worker, a retried
//! failure, a stage that panics, and deletion, and a document finishes on
//! the pipeline version it started with, on both back ends. Nothing of the
//! book is registered, so the engine's behaviour here owes nothing to the
//! book's stages.

mod common;

use bindery_core::{event, DocumentStatus};
use bindery_engine::Engine;
use bindery_pipeline::Registry;
use common::notes::registry_2;
use common::{Backend, TestApp};
use serde_json::json;

/// The pipelines `common::TestApp` runs: the engine tests' own `notes`.
fn registry() -> Registry {
    common::notes::registry()
}

/// Submits a text of `name` to `engine`, returning the document's id.
async fn submit(app: &TestApp, engine: &Engine, name: &str, text: &str) -> String {
    engine.submit(&app.file(name, text.as_bytes())).await.unwrap().id.as_str().to_owned()
}

async fn a_pipeline_declared_in_a_test_runs_end_to_end(backend: Backend) {
    let Some(app) = TestApp::spawn(backend, "").await else { return };
    let (store, blobs) = (&app.store, app.engine.blobs());

    // The first attempt of `count` fails as a crashed call would; the retry finishes the document.
    let flaky = app.engine_with(registry(), "count=fail(1)");
    let kept = submit(&app, &flaky, "kept.txt", "three short words").await;
    let deleted = submit(&app, &flaky, "deleted.txt", "four words go here").await;
    app.drain(&flaky).await;
    for id in [&kept, &deleted] {
        let doc = app.state(id).await;
        assert_eq!(doc.status, DocumentStatus::Ready, "{:?}", doc.error);
        assert_eq!(doc.pipeline, "notes");
        assert_eq!(doc.media_type, "text/plain");
    }
    let doc = app.state(&kept).await;
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
    let broken = app.engine_with(registry(), "shout=panic");
    let first = submit(&app, &broken, "first.txt", "one").await;
    let second = submit(&app, &broken, "second.txt", "one two").await;
    app.drain(&broken).await;
    for id in [&first, &second] {
        let doc = app.state(id).await;
        assert_eq!(doc.status, DocumentStatus::Failed);
        assert!(doc.error.as_deref().unwrap_or_default().contains("internal error"), "{:?}", doc.error);
        assert_eq!(doc.results["count"]["words"], json!(if id == &first { 1 } else { 2 }));
    }

    // Deleting a document removes every blob it alone held, and nothing of the others.
    let gone = app.state(&deleted).await.blob_keys();
    let mut others = Vec::new();
    for id in [&kept, &first, &second] {
        others.extend(app.state(id).await.blob_keys());
    }
    assert_eq!(gone.len(), 3, "the upload and two artifacts: {gone:?}");
    let found = |query: &'static str| {
        let store = store.clone();
        async move { store.search(query, None, 10).await.unwrap().into_iter().map(|h| h.document).collect::<Vec<_>>() }
    };
    assert_eq!(found("four words").await, std::slice::from_ref(&deleted), "shout indexed the document");
    flaky.delete_document(&deleted, None).await.unwrap();
    app.drain(&flaky).await;
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
    let Some(app) = TestApp::spawn(backend, "").await else { return };
    let blobs = app.engine.blobs();
    // Submitted on version 1, nothing run yet; then a process that runs version 2 and keeps version 1.
    let old = app.engine_with(registry(), "");
    let kept = submit(&app, &old, "kept.txt", "Kept On One").await;
    let both = app.engine_with(registry_2(true), "");
    let new = submit(&app, &both, "new.txt", "Started On Two").await;
    app.drain(&both).await;
    let kept = app.state(&kept).await;
    assert_eq!((kept.status, kept.pipeline_version), (DocumentStatus::Ready, 1), "{:?}", kept.error);
    assert!(!kept.results.contains_key("whisper"), "version 1 has no whisper stage");
    let new = app.state(&new).await;
    assert_eq!((new.status, new.pipeline_version), (DocumentStatus::Ready, 2), "{:?}", new.error);
    assert!(new.results.contains_key("whisper"));

    // A process without version 1 fails such a document with the reason; reprocessing moves it to version 2.
    let dropped = submit(&app, &old, "dropped.txt", "Dropped From One").await;
    let two_only = app.engine_with(registry_2(false), "");
    app.drain(&two_only).await;
    let doc = app.state(&dropped).await;
    assert_eq!(doc.status, DocumentStatus::Failed);
    let error = doc.error.unwrap_or_default();
    assert!(error.contains("version 1 of the notes pipeline") && error.contains("reprocess it"), "{error}");
    two_only.reprocess(&dropped, None).await.unwrap();
    app.drain(&two_only).await;
    let doc = app.state(&dropped).await;
    assert_eq!((doc.status, doc.pipeline_version), (DocumentStatus::Ready, 2), "{:?}", doc.error);
    let whispered = doc.artifacts.iter().find(|a| a.kind == "whispered").expect("version 2 ran");
    assert_eq!(&blobs.get_bytes(&whispered.key, 100).await.unwrap()[..], b"dropped from one");
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

on_both!(a_pipeline_declared_in_a_test_runs_end_to_end, a_document_finishes_on_the_version_it_started_with);
