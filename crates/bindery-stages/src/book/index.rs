//! `index`: the book's chapters into full-text search (SQLite FTS5 on the
//! embedded default, PostgreSQL full-text search when scaled out). This is
//! the one stage that writes outside blob storage, through the narrow
//! [`SearchIndex`] capability the engine hands it, and it is idempotent: a
//! re-run replaces the document's rows. It forgets them when the document is
//! deleted, and runs again if the deletion is undone.

use super::BookContext;
use async_trait::async_trait;
use bindery_pipeline::{Stage, StageContext, StageError, StageOutput};
use bindery_store::IndexedChapter;
use serde_json::json;

pub struct Index;

#[async_trait]
impl Stage for Index {
    fn name(&self) -> &'static str {
        "index"
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let search = ctx.search.as_ref().ok_or_else(|| StageError::Permanent("no search index configured".into()))?;
        let mut book = ctx.book().await?;
        // Each chapter's paragraphs are joined into its text and dropped at
        // once, so the book's text is held once here, not twice.
        let chapters: Vec<IndexedChapter> = std::mem::take(&mut book.chapters)
            .into_iter()
            .map(|c| IndexedChapter { index: c.index as i32, text: c.text(), title: c.title })
            .collect();
        let title = book.title.clone().unwrap_or_else(|| ctx.document.source.clone());
        search
            .index_document(ctx.document.id.as_str(), &book.language, &title, &chapters)
            .await
            .map_err(|e| StageError::Retryable(format!("search index: {e}")))?;
        Ok(StageOutput { outputs: vec![], summary: json!({"chapters": chapters.len(), "language": book.language}) })
    }

    /// The document's rows leave the index with it.
    async fn forget(&self, ctx: &StageContext) -> Result<(), StageError> {
        let search = ctx.search.as_ref().ok_or_else(|| StageError::Permanent("no search index configured".into()))?;
        search
            .remove_document(ctx.document.id.as_str())
            .await
            .map(drop)
            .map_err(|e| StageError::Retryable(format!("removing search rows: {e}")))
    }

    /// A deletion undone puts the rows back by indexing the book again.
    fn restore_after_forget(&self) -> bool {
        true
    }
}
