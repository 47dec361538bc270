//! The PostgreSQL back end, for scale-out: any number of `bindery worker`
//! processes on any number of machines share one database.
//!
//! Ordering: a reader following `sequence > n` must never skip an event that
//! commits late. Appenders take the global sequence from the one row of
//! `event_sequence` as the last step of their transaction and hold that row
//! lock until commit, so sequences become visible strictly in order (and
//! without gaps). Wake-ups travel by `LISTEN/NOTIFY`; every waiter also polls
//! as a fallback.

mod accounts;
mod blob_refs;
mod commit;
mod idempotency;
mod jobs;
mod search;
mod webhooks;

use crate::rows::{event_from_row, Replay, EVENT_COLUMNS};
use crate::{Cursors, Documents, EventLog, Result, Store};
use async_trait::async_trait;
use bindery_core::event::StoredEvent;
use bindery_core::time::Millis;
use bindery_core::DocumentState;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::types::Json;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub(crate) const JOBS_CHANNEL: &str = "bindery_jobs";
pub(crate) const EVENTS_CHANNEL: &str = "bindery_events";

pub struct PgStore {
    pool: PgPool,
    /// Sent as the payload of this store's `NOTIFY`s. Its own notifications
    /// come back through `LISTEN`; the waiters of this process were woken
    /// directly at commit, so the listener skips them instead of waking
    /// every worker a second time for nothing.
    origin: String,
    jobs_notify: Arc<Notify>,
    events_notify: Arc<Notify>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let opts = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await?;
        // Concurrent first starts (several workers at once) must not race on
        // creating the schema: serialise migrations with an advisory lock,
        // which sqlx's migrator takes on PostgreSQL.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let jobs_notify = Arc::new(Notify::new());
        let events_notify = Arc::new(Notify::new());
        let origin = uuid::Uuid::new_v4().simple().to_string();
        let listener = tokio::spawn(listen(pool.clone(), origin.clone(), jobs_notify.clone(), events_notify.clone()));
        Ok(Self { pool, origin, jobs_notify, events_notify, listener })
    }
}

/// Forwards `NOTIFY`s from other processes to the in-process waiters,
/// reconnecting after errors. Waiters also poll, so a gap here only costs
/// latency, never correctness.
async fn listen(pool: PgPool, origin: String, jobs: Arc<Notify>, events: Arc<Notify>) {
    loop {
        let result: Result<()> = async {
            let mut l = PgListener::connect_with(&pool).await?;
            l.listen_all([JOBS_CHANNEL, EVENTS_CHANNEL]).await?;
            loop {
                let n = l.recv().await?;
                if n.payload() == origin {
                    continue;
                }
                match n.channel() {
                    JOBS_CHANNEL => jobs.notify_waiters(),
                    _ => events.notify_waiters(),
                }
            }
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
        }
        // Whatever was missed while disconnected is found by polling.
        jobs.notify_waiters();
        events.notify_waiters();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

crate::invitations::impl_invitations!(PgStore, read: |s| &s.pool, write: |s| &s.pool, begin: |s| s.pool.begin());

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }
}

#[async_trait]
impl EventLog for PgStore {
    async fn read_stream(&self, stream: &str, after_version: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE stream = $1 AND version > $2 ORDER BY version LIMIT $3");
        let rows = sqlx::query(&sql).bind(stream).bind(after_version).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(|r| event_from_row!(r)).collect()
    }

    async fn read_all(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE sequence > $1 ORDER BY sequence LIMIT $2");
        let rows = sqlx::query(&sql).bind(after).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(|r| event_from_row!(r)).collect()
    }

    async fn read_project(&self, project: &str, after: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE sequence > $1 \
             AND stream IN (SELECT id FROM documents WHERE project = $2) ORDER BY sequence LIMIT $3"
        );
        let rows = sqlx::query(&sql).bind(after).bind(project).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(|r| event_from_row!(r)).collect()
    }

    async fn head(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(sequence), 0)::BIGINT FROM events").fetch_one(&self.pool).await?)
    }

    fn events_notify(&self) -> Arc<Notify> {
        self.events_notify.clone()
    }
}

#[async_trait]
impl Documents for PgStore {
    async fn document(&self, id: &str) -> Result<Option<DocumentState>> {
        let row: Option<Json<DocumentState>> =
            sqlx::query_scalar("SELECT state FROM documents WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|j| j.0))
    }

    async fn documents(&self, after_id: &str, limit: i64) -> Result<Vec<DocumentState>> {
        let rows: Vec<Json<DocumentState>> =
            sqlx::query_scalar("SELECT state FROM documents WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|j| j.0).collect())
    }

    async fn project_documents(&self, project: &str, after_id: &str, limit: i64) -> Result<Vec<DocumentState>> {
        let rows: Vec<Json<DocumentState>> =
            sqlx::query_scalar("SELECT state FROM documents WHERE project = $1 AND id > $2 ORDER BY id LIMIT $3")
                .bind(project)
                .bind(after_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|j| j.0).collect())
    }

    async fn rebuild_projections(&self) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        // Holding the sequencer row stops every appender for the duration,
        // so no event can slip in between the fold and the write.
        sqlx::query("SELECT last FROM event_sequence FOR UPDATE").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM documents").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM document_blobs").execute(&mut *tx).await?;
        let mut states = Replay::default();
        let mut after = 0;
        loop {
            let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE sequence > $1 ORDER BY sequence LIMIT 1000");
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
impl Cursors for PgStore {
    async fn cursor(&self, name: &str) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT sequence FROM cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn set_cursor(&self, name: &str, sequence: i64, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO cursors (name, sequence, updated_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET sequence = EXCLUDED.sequence, updated_ms = EXCLUDED.updated_ms",
        )
        .bind(name)
        .bind(sequence)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn acquire_lease(&self, name: &str, holder: &str, until: Millis, now: Millis) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO cursors (name, sequence, updated_ms, holder, lease_until) VALUES ($1, 0, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until \
             WHERE cursors.holder IS NULL OR cursors.holder = EXCLUDED.holder OR cursors.lease_until < $2",
        )
        .bind(name)
        .bind(now)
        .bind(holder)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
