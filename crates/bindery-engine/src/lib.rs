//! Bindery's durable runtime.
//!
//! [`Engine`] ties a store, blob storage and the stage registry together.
//! [`Engine::submit`] ingests a file; [`worker::Worker`] claims and runs
//! jobs until stopped; [`outbox::Outbox`] delivers the event log to sinks;
//! [`webhooks::Dispatcher`] delivers each project's events to its webhook endpoints.
//! Each long-running service follows one shape: an `Options` struct, a
//! `run` that spawns it, and a handle to stop and join it. Documents can be
//! reprocessed ([`Engine::reprocess`]) and deleted ([`Engine::delete_document`],
//! a saga run by a job: see [`delete`]).
//!
//! Invariant: every state change the engine makes goes through one
//! `Commit`, so a fact and its follow-up jobs are written together.

mod admin;
pub mod delete;
pub mod failpoints;
mod ingest;
pub mod outbox;
mod pipeline;
mod reprocess;
mod run;
mod settle;
pub mod webhooks;
pub mod worker;

pub use admin::{CancelReport, RetryReport};
pub use delete::DeleteReport;
pub use failpoints::Failpoints;
pub use ingest::{SubmitOptions, Submitted};
pub use reprocess::Reprocessed;
pub use run::{probe, NOOP_KIND};

use bindery_blob::BlobStore;
use bindery_core::retry::RetryPolicy;
use bindery_pipeline::Registry;
use bindery_store::{DynStore, StoreError};
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("storage: {0}")]
    Blob(#[from] bindery_blob::BlobError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

/// What every job of a pipeline gets unless a queue says otherwise.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    pub retry: RetryPolicy,
    /// Attempts before a stage job is dead and its document failed.
    pub max_attempts: i32,
    pub failpoints: Failpoints,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self { retry: RetryPolicy::default(), max_attempts: 5, failpoints: Failpoints::default() }
    }
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: DynStore,
    blobs: BlobStore,
    registry: Registry,
    options: EngineOptions,
}

impl Engine {
    pub fn new(store: DynStore, blobs: BlobStore, registry: Registry, options: EngineOptions) -> Self {
        Self { inner: Arc::new(Inner { store, blobs, registry, options }) }
    }

    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn options(&self) -> &EngineOptions {
        &self.inner.options
    }
}
