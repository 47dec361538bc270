//! The `Stage` trait: one step of a pipeline, what it sees and what it returns.

use async_trait::async_trait;
use bindery_blob::BlobStore;
use bindery_core::event::Artifact;
use bindery_core::DocumentState;
use bindery_store::SearchIndex;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use thiserror::Error;

/// What a stage sees: the document as folded from its events so far
/// (including earlier stages' artifacts and summaries), blob storage, the
/// search index (the only database capability a stage is handed; only the
/// `index` stage uses it), and where to note the blobs it relies on.
pub struct StageContext {
    pub document: DocumentState,
    pub blobs: BlobStore,
    pub search: Option<Arc<dyn SearchIndex>>,
    pub references: References,
}

/// Blobs a stage run wrote or relied on that are not artifacts (the analyzer's cached answers, shared by every
/// document that asks the same), noted as the run goes. The engine records them with the attempt's event whether
/// the run succeeds or fails, and the document holds them as it holds its artifacts, so deleting it deletes those
/// that no other document holds, even the answers of a run that failed halfway.
#[derive(Clone, Debug, Default)]
pub struct References(Arc<Mutex<BTreeSet<String>>>);

impl References {
    pub fn note(&self, key: String) {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(key);
    }

    /// The keys noted so far, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().cloned().collect()
    }
}

impl StageContext {
    /// The artifact of `kind` that an earlier stage produced.
    pub fn artifact(&self, kind: &str) -> Result<&Artifact, StageError> {
        self.document
            .artifacts
            .iter()
            .find(|a| a.kind == kind)
            .ok_or_else(|| StageError::Permanent(format!("no {kind:?} artifact from an earlier stage")))
    }

    /// Reads an earlier artifact, refusing anything over `max_bytes`.
    pub async fn read(&self, kind: &str, max_bytes: u64) -> Result<bytes::Bytes, StageError> {
        let key = self.artifact(kind)?.key.clone();
        self.blobs.get_bytes(&key, max_bytes).await.map_err(StageError::from_blob)
    }

    /// Streams the upload into `path`, so that parsers read a file instead
    /// of an in-memory copy, whatever the blob store is.
    pub async fn upload_file(&self, path: &Path) -> Result<PathBuf, StageError> {
        self.blobs.get_file(&self.document.blob_key, path).await.map_err(StageError::from_blob)?;
        Ok(path.to_owned())
    }

    /// Streams an earlier artifact of `kind` into `path`.
    pub async fn artifact_file(&self, kind: &str, path: &Path) -> Result<PathBuf, StageError> {
        let key = self.artifact(kind)?.key.clone();
        self.blobs.get_file(&key, path).await.map_err(StageError::from_blob)?;
        Ok(path.to_owned())
    }

    /// Stores `data` as an artifact of `kind`.
    pub async fn store(&self, kind: &str, media_type: &str, data: Vec<u8>) -> Result<Artifact, StageError> {
        let stored = self.blobs.put_bytes(data.into()).await.map_err(StageError::from_blob)?;
        Ok(Artifact { kind: kind.into(), key: stored.key, bytes: stored.bytes, media_type: media_type.into() })
    }
}

/// What a stage produced.
#[derive(Clone, Debug, Default)]
pub struct StageOutput {
    pub outputs: Vec<Artifact>,
    /// A small JSON summary, kept in the `stage.completed` event and shown by
    /// `bindery show`. Large results belong in artifacts.
    pub summary: Value,
}

/// Why a stage did not finish. The distinction drives the engine: a retryable error
/// is tried again with backoff, a permanent one fails the document at once,
/// and a wait is no failure at all.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum StageError {
    #[error("{0}")]
    Retryable(String),
    #[error("{0}")]
    Permanent(String),
    /// The stage handed its work to someone else (a language-model provider's
    /// batch) and must run again after `after` to collect it. The engine puts
    /// the job back without counting an attempt and without an event; `note`
    /// (what it waits for) becomes the job's last message.
    #[error("waiting: {note}")]
    Wait { after: std::time::Duration, note: String },
}

impl StageError {
    /// Whether trying again may help; a wait counts as retryable (it is run again).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StageError::Retryable(_) | StageError::Wait { .. })
    }

    pub fn from_blob(e: bindery_blob::BlobError) -> Self {
        if e.is_retryable() {
            StageError::Retryable(format!("storage: {e}"))
        } else {
            StageError::Permanent(format!("storage: {e}"))
        }
    }
}

#[async_trait]
pub trait Stage: Send + Sync {
    /// The stage's name in pipelines, events and queue names.
    fn name(&self) -> &'static str;
    /// The longest one run may take before the engine gives up on it.
    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(600)
    }
    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError>;
    /// Remote providers the stage depends on, with their state in this process (a language model, a speech
    /// or image vendor).
    fn providers(&self) -> Vec<ProviderStatus> {
        Vec::new()
    }
    /// The document was cancelled (or is being deleted): give up remote work the stage started for it and left
    /// running (enrich's provider batch). Best effort, and may be called more than once: by whoever cancels, and
    /// again once a job of the stage that was running then has stopped. Nothing to do by default.
    async fn cancelled(&self, _document: &DocumentState) -> Result<(), StageError> {
        Ok(())
    }
    /// The document is being deleted: forget what the stage keeps for it outside its artifacts and references
    /// (which the deletion deletes itself), such as rows in the search index. Idempotent, and called twice by
    /// each attempt of the deletion: before its point of no return, and again after the blobs are gone, since a
    /// run that was in flight may have written in between. Nothing to forget by default.
    async fn forget(&self, _ctx: &StageContext) -> Result<(), StageError> {
        Ok(())
    }
    /// Whether, when a deletion is undone after [`Stage::forget`] ran (a failure before its point of no return),
    /// the stage must run again to restore what it forgot. False by default: nothing was forgotten.
    fn restore_after_forget(&self) -> bool {
        false
    }
}

/// How a remote provider a stage depends on is doing, as this process sees
/// it (`GET /api/v1/admin/providers`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ProviderStatus {
    pub provider: String,
    pub model: String,
    /// The circuit breaker: "closed" (calls go through), "half-open" (a trial call) or "open" (calls fail fast).
    pub breaker: String,
}

/// A local disk's failure: the next attempt may find the disk well.
pub fn io(e: std::io::Error) -> StageError {
    StageError::Retryable(format!("local disk: {e}"))
}

/// Runs parser work on a blocking thread. A panic there (a bug in a parser
/// fed a hostile file) fails this document permanently: the same bytes would
/// panic again.
pub async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T, StageError> + Send + 'static,
) -> Result<T, StageError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => Err(StageError::Permanent(format!("{what} crashed on this file"))),
        Err(e) => Err(StageError::Retryable(format!("{what} was interrupted: {e}"))),
    }
}
