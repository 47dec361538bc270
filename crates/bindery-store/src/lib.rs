//! Bindery's persistence layer: the event log, the job queue and the read
//! models, each behind its own trait, with one SQLite and one PostgreSQL
//! implementation.
//!
//! Invariant: this is the only crate that knows SQL. Everything the engine
//! changes in one step — events appended, jobs enqueued, jobs settled, the
//! projection updated — goes through [`Commits::commit`] as a single
//! transaction, so a crash can never leave a fact without its follow-up job
//! or a job completed without its fact.

mod accounts;
mod blob_refs;
mod error;
mod idempotency;
mod invitations;
mod model;
pub mod postgres;
mod rows;
pub mod sqlite;
mod subscribe;
#[cfg(feature = "testing")]
pub mod testing;
mod webhooks;

pub use accounts::*;
pub use blob_refs::BlobRefs;
pub use error::StoreError;
pub use idempotency::{Idempotency, IdempotencyClaim, StoredResponse};
pub use invitations::{Accepted, Invitation, Invitations, NewInvitation};
pub use model::*;
pub use subscribe::subscribe;
pub use webhooks::*;

use async_trait::async_trait;
use bindery_core::event::StoredEvent;
use bindery_core::time::Millis;
use bindery_core::{DocumentState, Job, JobState};
use std::sync::Arc;
use tokio::sync::Notify;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The append-only event log.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Events of one stream with version > `after_version`, oldest first.
    async fn read_stream(&self, stream: &str, after_version: i64, limit: i64) -> Result<Vec<StoredEvent>>;
    /// Events of all streams with sequence > `after`, in sequence order.
    /// Never skips an event: every event with a lower sequence than one
    /// returned is already visible (see ARCHITECTURE.md, "the sequencer").
    async fn read_all(&self, after: i64, limit: i64) -> Result<Vec<StoredEvent>>;
    /// Events of the documents of `project` with sequence > `after`, in
    /// sequence order, with the same guarantee as [`EventLog::read_all`]:
    /// what a project's live view reads, without reading anyone else's.
    async fn read_project(&self, project: &str, after: i64, limit: i64) -> Result<Vec<StoredEvent>>;
    /// The highest sequence written, 0 for an empty log.
    async fn head(&self) -> Result<i64>;
    /// Woken (at least) whenever events are appended.
    fn events_notify(&self) -> Arc<Notify>;
}

/// The durable job queue.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Claims up to `limit` available jobs whose `run_at` has come, best
    /// priority first, honouring per-queue concurrency limits across all
    /// workers, suspects excepted. `queues` empty means every queue.
    async fn claim(
        &self,
        worker: &str,
        queues: &[String],
        limit: usize,
        lease_until: Millis,
        now: Millis,
    ) -> Result<Vec<Job>>;
    /// Extends the leases of `ids` held by `worker`. Returns the ids that
    /// are no longer this worker's (cancelled, or rescued after a lost lease),
    /// whose work must stop.
    async fn heartbeat(&self, worker: &str, ids: &[i64], lease_until: Millis, now: Millis) -> Result<Vec<i64>>;
    /// Puts running jobs whose lease expired back to `available`, as
    /// suspects: the attempt is given back (the job may only have been beside
    /// the one that stopped its worker) and `orphaned` counts the stop. A
    /// suspect whose lease expires again ran alone (see `claim_suspect`), so
    /// it is what stops its workers: it is returned untouched instead, for
    /// the engine to fail with its events.
    async fn rescue_expired(&self, now: Millis) -> Result<RescueReport>;
    /// Whether a suspect job (see `rescue_expired`) of `queues` is available
    /// now. `claim` never takes suspects.
    async fn suspect_waiting(&self, queues: &[String], now: Millis) -> Result<bool>;
    /// Claims the best available suspect job of `queues`, honouring queue
    /// limits, for a worker that runs nothing else until it is settled.
    async fn claim_suspect(
        &self,
        worker: &str,
        queues: &[String],
        lease_until: Millis,
        now: Millis,
    ) -> Result<Option<Job>>;
    async fn job(&self, id: i64) -> Result<Option<Job>>;
    async fn jobs(&self, state: Option<JobState>, after_id: i64, limit: i64) -> Result<Vec<Job>>;
    /// Whether any job is available (now or later) or running, read in one
    /// statement: two separate reads could both miss a job that moves from
    /// one state to the other between them (a rescue, a claim), and a worker
    /// that exits when idle would then stop with work left.
    async fn has_unfinished_jobs(&self) -> Result<bool>;
    /// Sets (or clears) a queue's limit on jobs running at once, counted
    /// across all workers.
    async fn set_queue_limit(&self, queue: &str, max_running: Option<i32>) -> Result<()>;
    /// Deletes completed and cancelled jobs last updated before `before`
    /// (of one queue, or all); returns how many. Dead jobs are kept.
    async fn prune(&self, queue: Option<&str>, before: Millis) -> Result<u64>;
    /// Job counts by queue and state.
    async fn queue_stats(&self) -> Result<Vec<QueueStat>>;
    /// Woken (at least) whenever jobs are enqueued or retried.
    fn jobs_notify(&self) -> Arc<Notify>;
}

/// Read models folded from the log.
#[async_trait]
pub trait Documents: Send + Sync {
    async fn document(&self, id: &str) -> Result<Option<DocumentState>>;
    async fn documents(&self, after_id: &str, limit: i64) -> Result<Vec<DocumentState>>;
    /// The documents of one project, by id after `after_id` (cursor pagination).
    async fn project_documents(&self, project: &str, after_id: &str, limit: i64) -> Result<Vec<DocumentState>>;
    /// Drops every projection (and the blob references that follow from them) and folds the whole log again.
    async fn rebuild_projections(&self) -> Result<u64>;
}

/// Atomic multi-part changes.
#[async_trait]
pub trait Commits: Send + Sync {
    async fn commit(&self, commit: Commit, now: Millis) -> Result<Committed>;
}

/// Named positions in the log, such as how far an outbox sink delivered.
#[async_trait]
pub trait Cursors: Send + Sync {
    async fn cursor(&self, name: &str) -> Result<i64>;
    async fn set_cursor(&self, name: &str, sequence: i64, now: Millis) -> Result<()>;
    /// Takes or renews the lease on `name` for `holder` until `until`.
    /// Returns false while another holder's lease is still valid: this is
    /// how exactly one process delivers each outbox sink.
    async fn acquire_lease(&self, name: &str, holder: &str, until: Millis, now: Millis) -> Result<bool>;
}

/// Full-text search over documents' chapters. The index is a read model the
/// engine writes once a document's text is known; it is not folded from the
/// event log, so `rebuild_projections` leaves it alone.
///
/// Queries are free text, never a syntax error: words must all match (in any
/// order, accents and case ignored), `"quoted words"` must match as a phrase,
/// `-word` excludes chapters containing the word, and `or` between two words
/// accepts either. Anything else (stray quotes, brackets, `*`, `AND`, `NEAR(`)
/// is read as plain words or ignored.
#[async_trait]
pub trait SearchIndex: Send + Sync {
    /// Replaces everything indexed for `document` (idempotent: running it
    /// twice leaves one copy), in one transaction. `language` picks stemming
    /// on PostgreSQL (`en`/`english`, `fr`/`french`; anything else is
    /// indexed without stemming); SQLite ignores it.
    async fn index_document(
        &self,
        document: &str,
        language: &str,
        title: &str,
        chapters: &[IndexedChapter],
    ) -> Result<()>;
    /// Drops `document` from the index; returns how many chapters it had.
    async fn remove_document(&self, document: &str) -> Result<u64>;
    /// Best matches first, at most `limit` (one hit per chapter);
    /// `documents` restricts to those ids when Some (the HTTP layer will
    /// pass a project's documents).
    async fn search(&self, query: &str, documents: Option<&[String]>, limit: i64) -> Result<Vec<SearchHit>>;
}

/// Everything a Bindery store offers.
pub trait Store:
    EventLog
    + JobQueue
    + Documents
    + Commits
    + Cursors
    + SearchIndex
    + Accounts
    + Invitations
    + BlobRefs
    + Idempotency
    + Webhooks
{
    /// `sqlite` or `postgres`, for logs and benchmark output.
    fn backend(&self) -> &'static str;
}

pub type DynStore = Arc<dyn Store>;

/// Opens a store by URL (`sqlite://path?mode=rwc`, `sqlite:path`, or
/// `postgres://…`) and runs its embedded migrations.
pub async fn connect(url: &str) -> Result<DynStore> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url).await?))
    } else {
        Err(StoreError::InvalidUrl(format!("{url:?}: expected sqlite:… or postgres://…")))
    }
}
