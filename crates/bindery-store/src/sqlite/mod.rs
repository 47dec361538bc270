//! The SQLite back end: the embedded default.
//!
//! SQLite allows one writer at a time, so this store keeps a pool of exactly
//! one write connection (writers in this process queue on it without
//! sleeping in SQLite's busy handler) and a small pool of readers. Write
//! transactions start with `BEGIN IMMEDIATE`, so a second process (another
//! `bindery worker` on the same file) waits for the write lock instead of
//! failing on a stale read snapshot. The database runs in WAL mode with
//! `synchronous=NORMAL`: a power cut may lose the last commits, never corrupt.

mod accounts;
mod blob_refs;
mod commit;
mod fts_query;
mod idempotency;
mod jobs;
mod search;
mod webhooks;

use crate::rows::{event_from_row, parse_state, Replay, EVENT_COLUMNS};
use crate::{Cursors, Documents, EventLog, Result, Store};
use async_trait::async_trait;
use bindery_core::event::StoredEvent;
use bindery_core::time::Millis;
use bindery_core::DocumentState;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Row;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    jobs_notify: Arc<Notify>,
    events_notify: Arc<Notify>,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .pragma("cache_size", "-32768")
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(opts.read_only(true)).await?;
        Ok(Self { writer, reader, jobs_notify: Arc::default(), events_notify: Arc::default() })
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

crate::invitations::impl_invitations!(SqliteStore, read: |s| &s.reader, write: |s| &s.writer, begin: |s| s.begin());

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

#[async_trait]
impl EventLog for SqliteStore {
    async fn read_stream(&self, stream: &str, after_version: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE stream = ? AND version > ? ORDER BY version LIMIT ?");
        let rows = sqlx::query(&sql).bind(stream).bind(after_version).bind(limit).fetch_all(&self.reader).await?;
        rows.iter().map(|r| event_from_row!(r)).collect()
    }

    async fn read_all(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        // The single writer assigns sequences inside its transaction, so
        // everything visible is a prefix of the log: no late commits here.
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?");
        let rows = sqlx::query(&sql).bind(after).bind(limit).fetch_all(&self.reader).await?;
        rows.iter().map(|r| event_from_row!(r)).collect()
    }

    async fn read_project(&self, project: &str, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE sequence > ? \
             AND stream IN (SELECT id FROM documents WHERE project = ?) ORDER BY sequence LIMIT ?"
        );
        let rows = sqlx::query(&sql).bind(after).bind(project).bind(limit).fetch_all(&self.reader).await?;
        rows.iter().map(|r| event_from_row!(r)).collect()
    }

    async fn head(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(sequence), 0) FROM events").fetch_one(&self.reader).await?)
    }

    fn events_notify(&self) -> Arc<Notify> {
        self.events_notify.clone()
    }
}

#[async_trait]
impl Documents for SqliteStore {
    async fn document(&self, id: &str) -> Result<Option<DocumentState>> {
        let row: Option<String> = sqlx::query_scalar("SELECT state FROM documents WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_deref().map(parse_state).transpose()
    }

    async fn documents(&self, after_id: &str, limit: i64) -> Result<Vec<DocumentState>> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT state FROM documents WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(|s| parse_state(s)).collect()
    }

    async fn project_documents(&self, project: &str, after_id: &str, limit: i64) -> Result<Vec<DocumentState>> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT state FROM documents WHERE project = ? AND id > ? ORDER BY id LIMIT ?")
                .bind(project)
                .bind(after_id)
                .bind(limit)
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(|s| parse_state(s)).collect()
    }

    async fn rebuild_projections(&self) -> Result<u64> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM documents").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM document_blobs").execute(&mut *tx).await?;
        let mut states = Replay::default();
        let mut after = 0;
        loop {
            let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE sequence > ? ORDER BY sequence LIMIT 1000");
            let rows = sqlx::query(&sql).bind(after).fetch_all(&mut *tx).await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let ev = event_from_row!(row)?;
                after = ev.sequence;
                states.apply(&ev)?;
            }
        }
        for s in states.states() {
            commit::upsert_document(&mut tx, s).await?;
            commit::set_blob_refs(&mut tx, &s.id, &s.blob_keys()).await?;
        }
        tx.commit().await?;
        Ok(states.len())
    }
}

#[async_trait]
impl Cursors for SqliteStore {
    async fn cursor(&self, name: &str) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT sequence FROM cursors WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.writer)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn set_cursor(&self, name: &str, sequence: i64, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO cursors (name, sequence, updated_ms) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET sequence = excluded.sequence, updated_ms = excluded.updated_ms",
        )
        .bind(name)
        .bind(sequence)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn acquire_lease(&self, name: &str, holder: &str, until: Millis, now: Millis) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO cursors (name, sequence, updated_ms, holder, lease_until) VALUES (?, 0, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until \
             WHERE cursors.holder IS NULL OR cursors.holder = excluded.holder OR cursors.lease_until < ?",
        )
        .bind(name)
        .bind(now)
        .bind(holder)
        .bind(until)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

/// Reads a row's single `state` column, used by the commit path.
pub(crate) fn state_of(row: &sqlx::sqlite::SqliteRow) -> Result<DocumentState> {
    parse_state(row.try_get::<&str, _>("state")?)
}
