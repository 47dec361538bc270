//! Full-text search on SQLite: an FTS5 index ranked by BM25 (see
//! `migrations/sqlite/0002_search.sql` for the tables and the tokenizer).

use super::fts_query::fts5_query;
use super::SqliteStore;
use crate::rows::hit_from_row;
use crate::{IndexedChapter, Result, SearchHit, SearchIndex, SNIPPET_ELLIPSIS, SNIPPET_END, SNIPPET_START};
use async_trait::async_trait;

/// Tokens of context `snippet()` returns around the matches (FTS5's most is 64).
const SNIPPET_TOKENS: i32 = 32;

/// The most chapter text one insert statement carries (see `index_document`).
const INSERT_BYTES: usize = 1 << 20;

/// `chapters` in consecutive groups of at most `bytes` of text, a larger chapter alone.
fn groups(chapters: &[IndexedChapter], bytes: usize) -> Vec<&[IndexedChapter]> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, c) in chapters.iter().enumerate() {
        if i > start && size + c.text.len() > bytes {
            out.push(&chapters[start..i]);
            (start, size) = (i, 0);
        }
        size += c.text.len();
    }
    if start < chapters.len() {
        out.push(&chapters[start..]);
    }
    out
}

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
        // Chapters go in groups of up to a mebibyte of text, one statement each: every statement is a hand-off to
        // SQLite's thread, and a book has dozens of chapters, but SQLite holds a JSON argument many times over
        // while `json_each` walks it, so one argument for a whole long text would be the largest part of its
        // processing's peak. A chapter over the size goes alone, bound as it is.
        for group in groups(chapters, INSERT_BYTES) {
            match group {
                [one] if one.text.len() > INSERT_BYTES => {
                    sqlx::query(
                        "INSERT INTO search_chapters (document, chapter, chapter_title, body) VALUES (?, ?, ?, ?)",
                    )
                    .bind(document)
                    .bind(one.index)
                    .bind(&one.title)
                    .bind(&one.text)
                    .execute(&mut *tx)
                    .await?;
                }
                group => {
                    sqlx::query(
                        "INSERT INTO search_chapters (document, chapter, chapter_title, body) \
                         SELECT ?, json_extract(value, '$.index'), json_extract(value, '$.title'), \
                                json_extract(value, '$.text') \
                         FROM json_each(?)",
                    )
                    .bind(document)
                    .bind(serde_json::to_string(group).expect("chapters serialise"))
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapters_are_grouped_by_size_and_a_large_one_goes_alone() {
        let chapter = |index, len| IndexedChapter { index, title: String::new(), text: "a".repeat(len) };
        let chapters = [chapter(1, 4), chapter(2, 4), chapter(3, 20), chapter(4, 3), chapter(5, 3), chapter(6, 5)];
        let indexes: Vec<Vec<i32>> =
            groups(&chapters, 10).iter().map(|g| g.iter().map(|c| c.index).collect()).collect();
        assert_eq!(indexes, [vec![1, 2], vec![3], vec![4, 5], vec![6]]);
        assert!(groups(&[], 10).is_empty());
    }
}
