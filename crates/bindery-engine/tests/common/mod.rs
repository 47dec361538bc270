//! `TestApp`: an engine on a fresh store (SQLite file or PostgreSQL schema)
//! with blobs in a temporary folder, plus helpers to run it until done.
//!
//! It runs the pipelines of the test binary that includes it: the binary's
//! root defines `fn registry() -> bindery_pipeline::Registry` (the engine's
//! own tests a small pipeline, `notes`; the book's tests, which include this
//! file from `crates/bindery-stages/tests`, the book's registry).

#![allow(dead_code)]

pub mod notes;

use bindery_blob::BlobStore;
use bindery_core::retry::RetryPolicy;
use bindery_core::{DocumentState, DocumentStatus};
use bindery_engine::worker::{Worker, WorkerOptions};
use bindery_engine::{Engine, EngineOptions, Failpoints};
use bindery_store::{testing, DynStore};
use std::path::PathBuf;
use std::time::Duration;

/// Events of a document that goes through `pipeline`: uploaded, one
/// completion per stage, ready.
pub fn events_per_document(pipeline: &bindery_core::Pipeline) -> i64 {
    pipeline.stages().len() as i64 + 2
}

pub struct TestApp {
    pub engine: Engine,
    pub store: DynStore,
    pub dir: tempfile::TempDir,
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn options(failpoints: &str) -> EngineOptions {
    EngineOptions {
        retry: RetryPolicy { base: Duration::from_millis(10), max: Duration::from_millis(100), jitter: 0.0 },
        max_attempts: 3,
        failpoints: Failpoints::parse(failpoints).unwrap(),
    }
}

impl TestApp {
    /// `None` when the back end is not configured (PostgreSQL outside CI).
    pub async fn spawn(backend: Backend, failpoints: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let store = match backend {
            Backend::Sqlite => bindery_store::connect(&testing::sqlite_url(dir.path())).await.unwrap(),
            Backend::Postgres => testing::postgres().await?,
        };
        let blobs = BlobStore::from_url(dir.path().join("blobs").to_str().unwrap()).unwrap();
        let engine = Engine::new(store.clone(), blobs, crate::registry(), options(failpoints));
        Some(Self { engine, store, dir })
    }

    /// The same store and blobs, with other engine options (a restarted
    /// process with a different configuration).
    pub fn with_options(&self, opts: EngineOptions) -> Engine {
        Engine::new(self.store.clone(), self.engine.blobs().clone(), crate::registry(), opts)
    }

    /// The same store and blobs, with other pipelines and fail points (a
    /// process of another version, say).
    pub fn engine_with(&self, registry: bindery_pipeline::Registry, failpoints: &str) -> Engine {
        Engine::new(self.store.clone(), self.engine.blobs().clone(), registry, options(failpoints))
    }

    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    pub fn worker_options(&self) -> WorkerOptions {
        WorkerOptions {
            concurrency: 4,
            lease: Duration::from_secs(5),
            heartbeat: Duration::from_millis(200),
            poll: Duration::from_millis(50),
            exit_when_idle: true,
            ..WorkerOptions::default()
        }
    }

    /// Runs a worker until no job is left, bounded by a minute.
    pub async fn drain(&self, engine: &Engine) {
        let handle = Worker::new(engine.clone(), self.worker_options()).run();
        tokio::time::timeout(Duration::from_secs(180), handle.join()).await.expect("worker drains within 3 minutes");
    }

    pub async fn process(&self, name: &str, content: &[u8]) -> DocumentState {
        let path = self.file(name, content);
        let sub = self.engine.submit(&path).await.unwrap();
        self.drain(&self.engine).await;
        self.state(sub.id.as_str()).await
    }

    pub async fn state(&self, id: &str) -> DocumentState {
        self.store.document(id).await.unwrap().expect("document exists")
    }

    pub async fn types(&self, id: &str) -> Vec<String> {
        self.store.read_stream(id, 0, 1000).await.unwrap().into_iter().map(|e| e.ty).collect()
    }
}

pub fn corpus(rel: &str) -> Option<PathBuf> {
    bindery_testkit::corpus(rel)
}

pub fn assert_ready(s: &DocumentState) {
    assert_eq!(s.status, DocumentStatus::Ready, "document {} ended {:?}: {:?}", s.id, s.status, s.error);
}

/// A short text with two Markdown chapters.
pub fn sample_markdown() -> Vec<u8> {
    let body = "The quick brown fox jumps over the lazy dog and runs far away into the woods. ".repeat(4);
    format!("# First\n\n{body}\n\n# Second\n\n{body}\n").into_bytes()
}
