//! Plain data passed in and out of the store traits.

use bindery_core::event::StoredEvent;
use bindery_core::{Expected, Job, NewEvent, NewJob};
use serde::{Deserialize, Serialize};

/// Events to append to one stream, with the version the writer expects.
#[derive(Clone, Debug)]
pub struct Append {
    pub stream: String,
    pub expected: Expected,
    pub events: Vec<NewEvent>,
}

/// How a claimed job ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Completed,
    /// Back to `available` at `run_at`, keeping the error.
    Retry {
        run_at: i64,
        error: String,
    },
    Dead {
        error: String,
    },
    /// Not a failure: the job handed its work to someone else (a provider's batch) and must run again at `run_at`
    /// to collect it. Back to `available` without counting the attempt, with `note` as its last message.
    Wait {
        run_at: i64,
        note: String,
    },
}

/// Settles a running job. Applies only while the job is still running under
/// `worker`; otherwise the whole commit fails with `LeaseLost`, so a worker
/// that lost its lease cannot append duplicate facts.
#[derive(Clone, Debug, PartialEq)]
pub struct Finish {
    pub job: i64,
    pub worker: String,
    pub outcome: Outcome,
}

/// One transaction's worth of changes.
#[derive(Clone, Debug, Default)]
pub struct Commit {
    pub appends: Vec<Append>,
    pub enqueue: Vec<NewJob>,
    pub finish: Vec<Finish>,
    /// Cancels every job of these documents that has not finished.
    pub cancel_documents: Vec<String>,
    /// Cancels these jobs if they have not finished.
    pub cancel_jobs: Vec<i64>,
    /// Makes these dead or cancelled jobs available again, with fresh attempts.
    pub revive: Vec<i64>,
}

impl Commit {
    pub fn is_empty(&self) -> bool {
        self.appends.is_empty()
            && self.enqueue.is_empty()
            && self.finish.is_empty()
            && self.cancel_documents.is_empty()
            && self.revive.is_empty()
            && self.cancel_jobs.is_empty()
    }
}

#[derive(Clone, Debug, Default)]
pub struct Committed {
    pub events: Vec<StoredEvent>,
    /// The id of each enqueued job, `None` where its unique key already existed.
    pub enqueued: Vec<Option<i64>>,
    /// How many of `revive` were dead or cancelled and are available again.
    pub revived: u64,
    /// How many jobs `cancel_documents` and `cancel_jobs` cancelled.
    pub cancelled: u64,
}

#[derive(Clone, Debug, Default)]
pub struct RescueReport {
    /// Jobs put back to `available`.
    pub rescued: u64,
    /// Expired suspects: their worker stopped twice while they ran, the
    /// second time with nothing else running. Still `running`.
    pub stopped_twice: Vec<Job>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueStat {
    pub queue: String,
    pub state: String,
    pub count: i64,
}

/// One chapter handed to [`crate::SearchIndex::index_document`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedChapter {
    /// The chapter's number within its document, unique per document.
    pub index: i32,
    pub title: String,
    pub text: String,
}

/// One chapter matching a search, as [`crate::SearchIndex::search`] returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub document: String,
    /// The document's title, as given when it was indexed.
    pub title: String,
    pub chapter: i32,
    pub chapter_title: String,
    /// A short excerpt of the chapter text (or its title) around the matched
    /// terms, each match wrapped in [`SNIPPET_START`] and [`SNIPPET_END`];
    /// elided text is marked with [`SNIPPET_ELLIPSIS`]. The text is plain, not
    /// HTML: a web client escapes it first, then turns the markers into tags.
    pub snippet: String,
    /// Relevance, higher is better. Only comparable between hits of one
    /// search on one back end (SQLite reports negated BM25, PostgreSQL
    /// `ts_rank`).
    pub score: f64,
}

/// Opens a matched term in [`SearchHit::snippet`]. Guillemets would be the
/// obvious choice but French text is full of them, so the markers are ASCII
/// brackets doubled, which prose practically never contains.
pub const SNIPPET_START: &str = "[[";
/// Closes a matched term in [`SearchHit::snippet`].
pub const SNIPPET_END: &str = "]]";
/// Stands for text left out of [`SearchHit::snippet`].
pub const SNIPPET_ELLIPSIS: &str = "…";
