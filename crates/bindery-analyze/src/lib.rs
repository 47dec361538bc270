//! The built-in offline analyzer for English and French books: extractive summaries, TF-IDF
//! keywords, characters and places, dialogue attribution, chapter sentiment and tonality, and
//! scenes — from closed word lists and heuristics, with no model and nothing downloaded, so the
//! enrich stage always has an answer even where no external analyzer is configured.
//!
//! [`analyze_book`] is the synchronous core; [`Offline`] wraps it in the [`Analyzer`] trait that
//! the pipeline stage calls, running it on a blocking thread because a long novel keeps a core
//! busy for a noticeable fraction of a second.

mod analyze;
mod cast;
mod choice;
mod dialogue;
mod doc;
mod keywords;
mod lexicon;
mod mentions;
mod model;
mod scenes;
mod sentiment;
mod summary;
pub mod text;
mod words;

use std::sync::Arc;

use async_trait::async_trait;
use bindery_core::book::Book;

pub use analyze::analyze_book;
pub use choice::{AnalyzerInfo, Analyzers, OFFLINE};
pub use model::{Analysis, ChapterAnalysis, Character, DialogueLine, Fallback, Keyword, ModelReport, Place, Scene};

/// Why an analysis failed. The offline analyzer only fails if its worker thread dies; remote
/// analyzers behind the same trait use `Retryable` for outages and `Permanent` for refusals.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("analysis failed, worth retrying: {0}")]
    Retryable(String),
    #[error("analysis failed permanently: {0}")]
    Permanent(String),
    /// Not a failure: the work was handed to a provider's batch; analyse again after `after` to collect it.
    #[error("analysis is waiting: {note}")]
    Pending { after: std::time::Duration, note: String },
}

/// Where an analyzer keeps answers between runs, under keys it derives from everything that decides the answer
/// (content, prompt version, model), so that analysing the same text again costs nothing. The enrich stage backs it
/// with blob storage, which every worker of a deployment shares.
#[async_trait]
pub trait AnswerCache: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, AnalyzeError>;
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), AnalyzeError>;
}

/// What an analyzer is told besides the book.
#[derive(Clone, Default)]
pub struct AnalyzeContext {
    /// The document's id, for logs and for the metadata of remote batches.
    pub document: String,
    /// Where to cache answers; `None` caches nothing.
    pub cache: Option<Arc<dyn AnswerCache>>,
    /// When the document must be ready (Unix milliseconds); `None` when someone is waiting for it now. Remote
    /// analyzers use a slower, cheaper path (a provider's batch) only when the deadline leaves time for it.
    pub deadline_ms: Option<i64>,
}

/// Something that turns a structured book into an [`Analysis`].
#[async_trait]
pub trait Analyzer: Send + Sync {
    /// A short stable name, recorded in [`Analysis::analyzer`].
    fn name(&self) -> &str;
    async fn analyze(&self, book: Arc<Book>, ctx: &AnalyzeContext) -> Result<Analysis, AnalyzeError>;
    /// The remote providers this analyzer talks to and how they are doing in this process (for the admin page);
    /// none for the offline analyzer.
    fn providers(&self) -> Vec<ProviderStatus> {
        Vec::new()
    }
    /// The document was cancelled (or is being deleted): give up the remote work started for it (a provider's batch
    /// still running), so that nobody pays for answers nobody will collect. May be called more than once, so
    /// work already given up is left alone. Returns how many remote jobs were cancelled. Nothing to do by default.
    async fn cancelled(&self, _ctx: &AnalyzeContext) -> Result<usize, AnalyzeError> {
        Ok(0)
    }
}

/// How a remote analyzer's provider is doing, as this process sees it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ProviderStatus {
    pub provider: String,
    pub model: String,
    /// The circuit breaker: "closed" (calls go through), "half-open" (a trial call) or "open" (calls fail fast).
    pub breaker: String,
}

/// The built-in analyzer: [`analyze_book`] on a blocking thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Offline;

#[async_trait]
impl Analyzer for Offline {
    fn name(&self) -> &str {
        "offline"
    }

    async fn analyze(&self, book: Arc<Book>, _ctx: &AnalyzeContext) -> Result<Analysis, AnalyzeError> {
        tokio::task::spawn_blocking(move || analyze_book(&book)).await.map_err(|e| {
            if e.is_panic() {
                AnalyzeError::Permanent(format!("offline analyzer panicked: {e}"))
            } else {
                AnalyzeError::Retryable(format!("offline analyzer was cancelled: {e}"))
            }
        })
    }
}
