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
pub use model::{Analysis, ChapterAnalysis, Character, DialogueLine, Keyword, Place, Scene};

/// Why an analysis failed. The offline analyzer only fails if its worker thread dies; remote
/// analyzers behind the same trait use `Retryable` for outages and `Permanent` for refusals.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("analysis failed, worth retrying: {0}")]
    Retryable(String),
    #[error("analysis failed permanently: {0}")]
    Permanent(String),
}

/// Something that turns a structured book into an [`Analysis`].
#[async_trait]
pub trait Analyzer: Send + Sync {
    /// A short stable name, recorded in [`Analysis::analyzer`].
    fn name(&self) -> &str;
    async fn analyze(&self, book: Arc<Book>) -> Result<Analysis, AnalyzeError>;
}

/// The built-in analyzer: [`analyze_book`] on a blocking thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Offline;

#[async_trait]
impl Analyzer for Offline {
    fn name(&self) -> &str {
        "offline"
    }

    async fn analyze(&self, book: Arc<Book>) -> Result<Analysis, AnalyzeError> {
        tokio::task::spawn_blocking(move || analyze_book(&book)).await.map_err(|e| {
            if e.is_panic() {
                AnalyzeError::Permanent(format!("offline analyzer panicked: {e}"))
            } else {
                AnalyzeError::Retryable(format!("offline analyzer was cancelled: {e}"))
            }
        })
    }
}
