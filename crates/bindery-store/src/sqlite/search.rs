//! Full-text search on SQLite: an FTS5 index ranked by BM25 (see
//! `migrations/sqlite/0002_search.sql` for the tables and the tokenizer).

use super::fts_query::fts5_query;
use super::SqliteStore;
use crate::rows::hit_from_row;
use crate::{IndexedChapter, Result, SearchHit, SearchIndex, SNIPPET_ELLIPSIS, SNIPPET_END, SNIPPET_START};
use async_trait::async_trait;

/// Tokens of context `snippet()` returns around the matches (FTS5's most is 64).
const SNIPPET_TOKENS: i32 = 32;

#[async_trait]
impl SearchIndex for SqliteStore {
    async fn index_document(
        &self,
        document: &str,
        language: &str,
        title: &str,
        chapters: &[IndexedChapter],
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM search_chapters WHERE document = ?").bind(document).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO search_documents (document, language, title) VALUES (?, ?, ?) \
             ON CONFLICT (document) DO UPDATE SET language = excluded.language, title = excluded.title",
        )
        .bind(document)
        .bind(language)
        .bind(title)
        .execute(&mut *tx)
        .await?;
        // One statement for all chapters: every statement is a hand-off to
        // SQLite's thread, and a book has dozens of chapters.
        sqlx::query(
            "INSERT INTO search_chapters (document, chapter, chapter_title, body) \
             SELECT ?, json_extract(value, '$.index'), json_extract(value, '$.title'), json_extract(value, '$.text') \
             FROM json_each(?)",
        )
        .bind(document)
        .bind(serde_json::to_string(chapters).expect("chapters serialise"))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_document(&self, document: &str) -> Result<u64> {
        let mut tx = self.begin().await?;
        let removed = sqlx::query("DELETE FROM search_chapters WHERE document = ?")
            .bind(document)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM search_documents WHERE document = ?").bind(document).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn search(&self, query: &str, documents: Option<&[String]>, limit: i64) -> Result<Vec<SearchHit>> {
        let Some(fts) = fts5_query(query) else { return Ok(Vec::new()) };
        if limit <= 0 || documents.is_some_and(|d| d.is_empty()) {
            return Ok(Vec::new());
        }
        // snippet() column -1 picks whichever of title and body matched best.
        // BM25 weights per column, in table order: the unindexed document id
        // and chapter number never match; a match in the chapter title
        // counts for more than one in the body. bm25() is lower for better
        // matches, hence the negation into a higher-is-better score.
        let filter = if documents.is_some() { "AND f.document IN (SELECT value FROM json_each(?))" } else { "" };
        let sql = format!(
            "SELECT f.document, d.title, f.chapter, f.chapter_title, \
                    snippet(search_fts, -1, ?, ?, ?, ?) AS snippet, \
                    -bm25(search_fts, 0.0, 0.0, 5.0, 1.0) AS score \
             FROM search_fts f JOIN search_documents d ON d.document = f.document \
             WHERE search_fts MATCH ? {filter} \
             ORDER BY score DESC, f.document, f.chapter LIMIT ?"
        );
        let mut q = sqlx::query(&sql).bind(SNIPPET_START).bind(SNIPPET_END).bind(SNIPPET_ELLIPSIS).bind(SNIPPET_TOKENS);
        q = q.bind(fts);
        if let Some(ids) = documents {
            q = q.bind(serde_json::to_string(ids).expect("ids serialise"));
        }
        let rows = q.bind(limit).fetch_all(&self.reader).await?;
        rows.iter().map(|r| hit_from_row!(r)).collect()
    }
}
