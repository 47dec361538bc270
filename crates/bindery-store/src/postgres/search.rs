//! Full-text search on PostgreSQL: a generated `tsvector` per chapter under
//! the document's language configuration, a GIN index, `websearch_to_tsquery`
//! for user input (it accepts any text without a syntax error), `ts_rank` for
//! order and `ts_headline` for snippets. The configurations and the accent
//! handling are set up by `migrations/postgres/0002_search.sql`.

use super::PgStore;
use crate::rows::hit_from_row;
use crate::{IndexedChapter, Result, SearchHit, SearchIndex, SNIPPET_ELLIPSIS, SNIPPET_END, SNIPPET_START};
use async_trait::async_trait;
use std::borrow::Cow;

/// PostgreSQL text cannot hold NUL characters (sending one is an encoding
/// error), yet text extracted from PDFs and user queries may contain them.
/// They carry no meaning for search, so they become spaces.
fn without_nul(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', " "))
    } else {
        Cow::Borrowed(s)
    }
}

/// The text search configuration (created by the migration) for a
/// document's language.
fn config_for(language: &str) -> &'static str {
    match language.to_ascii_lowercase().as_str() {
        "en" | "eng" | "english" => "bindery_english",
        "fr" | "fra" | "fre" | "french" => "bindery_french",
        _ => "bindery_simple",
    }
}

/// Hits are ranked first and only the chapters kept get a headline, because
/// `ts_headline` re-parses the whole chapter text. A chapter matches when its
/// tsvector matches the query parsed under the chapter's own configuration;
/// the query is parsed once per configuration, and each branch of the OR can
/// use the GIN index. The snippet comes from the body, or from the chapter
/// title when only the title (weight A; the body is weight D) matched.
const SEARCH_SQL: &str = "
WITH q AS (
    SELECT websearch_to_tsquery('bindery_english', $1) AS en,
           websearch_to_tsquery('bindery_french', $1) AS fr,
           websearch_to_tsquery('bindery_simple', $1) AS si
), ranked AS (
    SELECT c.document, c.chapter, c.chapter_title, c.body, c.config, c.tsv, m.query, ts_rank(c.tsv, m.query) AS score
    FROM search_chapters c CROSS JOIN q
    CROSS JOIN LATERAL (SELECT CASE c.config WHEN 'bindery_english'::regconfig THEN q.en
                                             WHEN 'bindery_french'::regconfig THEN q.fr
                                             ELSE q.si END AS query) m
    WHERE ((c.config = 'bindery_english'::regconfig AND c.tsv @@ q.en)
        OR (c.config = 'bindery_french'::regconfig AND c.tsv @@ q.fr)
        OR (c.config = 'bindery_simple'::regconfig AND c.tsv @@ q.si))
      AND ($2::text[] IS NULL OR c.document = ANY($2))
    ORDER BY score DESC, c.document, c.chapter
    LIMIT $3
)
SELECT r.document, d.title, r.chapter, r.chapter_title, r.score::float8 AS score,
       ts_headline(r.config, CASE WHEN ts_filter(r.tsv, '{d}') @@ r.query THEN r.body ELSE r.chapter_title END,
                   r.query, $4) AS snippet
FROM ranked r JOIN search_documents d ON d.document = r.document
ORDER BY r.score DESC, r.document, r.chapter";

#[async_trait]
impl SearchIndex for PgStore {
    async fn index_document(
        &self,
        document: &str,
        language: &str,
        title: &str,
        chapters: &[IndexedChapter],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM search_chapters WHERE document = $1").bind(document).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO search_documents (document, language, title) VALUES ($1, $2, $3) \
             ON CONFLICT (document) DO UPDATE SET language = EXCLUDED.language, title = EXCLUDED.title",
        )
        .bind(document)
        .bind(language)
        .bind(without_nul(title).as_ref())
        .execute(&mut *tx)
        .await?;
        let indexes: Vec<i32> = chapters.iter().map(|c| c.index).collect();
        let titles: Vec<Cow<str>> = chapters.iter().map(|c| without_nul(&c.title)).collect();
        let texts: Vec<Cow<str>> = chapters.iter().map(|c| without_nul(&c.text)).collect();
        let titles: Vec<&str> = titles.iter().map(|t| t.as_ref()).collect();
        let texts: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        sqlx::query(
            "INSERT INTO search_chapters (document, chapter, chapter_title, body, config) \
             SELECT $1, c.chapter, c.title, c.body, $5::regconfig FROM UNNEST($2::int4[], $3::text[], $4::text[]) \
             AS c (chapter, title, body)",
        )
        .bind(document)
        .bind(&indexes)
        .bind(&titles)
        .bind(&texts)
        .bind(config_for(language))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn remove_document(&self, document: &str) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let removed = sqlx::query("DELETE FROM search_chapters WHERE document = $1")
            .bind(document)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM search_documents WHERE document = $1").bind(document).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn search(&self, query: &str, documents: Option<&[String]>, limit: i64) -> Result<Vec<SearchHit>> {
        if limit <= 0 || documents.is_some_and(|d| d.is_empty()) {
            return Ok(Vec::new());
        }
        let options = format!(
            "StartSel=\"{SNIPPET_START}\", StopSel=\"{SNIPPET_END}\", MinWords=12, MaxWords=32, \
             MaxFragments=2, FragmentDelimiter=\" {SNIPPET_ELLIPSIS} \""
        );
        let rows = sqlx::query(SEARCH_SQL)
            .bind(without_nul(query).as_ref())
            .bind(documents)
            .bind(limit)
            .bind(options)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| hit_from_row!(r)).collect()
    }
}
