//! Jobs: the durable unit of work the engine claims, runs and completes.

use crate::time::Millis;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// A job's lifecycle. A job waiting for a retry is `Available` with a later
/// `run_at`; a job that used up its attempts or failed permanently is `Dead`
/// and stays listed until someone retries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Available,
    Running,
    Completed,
    Dead,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 5] =
        [JobState::Available, JobState::Running, JobState::Completed, JobState::Dead, JobState::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            format!("unknown job state {s:?} (expected one of available, running, completed, dead, cancelled)")
        })
    }
}

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    /// The queue, which is also the unit of concurrency limits. Pipeline
    /// stages use their stage name.
    pub queue: String,
    pub kind: String,
    pub document: Option<String>,
    pub payload: Value,
    /// Lower runs first.
    pub priority: i16,
    pub run_at: Millis,
    pub max_attempts: i32,
    /// At most one job per unique key ever exists; enqueueing a duplicate is
    /// a silent no-op. Pipelines use `document:stage:version`.
    pub unique_key: Option<String>,
}

impl NewJob {
    pub fn new(queue: &str, kind: &str, payload: Value, run_at: Millis) -> Self {
        Self {
            queue: queue.to_owned(),
            kind: kind.to_owned(),
            document: None,
            payload,
            priority: 0,
            run_at,
            max_attempts: 5,
            unique_key: None,
        }
    }
}

/// A stored job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub queue: String,
    pub kind: String,
    pub document: Option<String>,
    pub payload: Value,
    pub priority: i16,
    pub state: JobState,
    /// Attempts started so far, including the running one.
    pub attempt: i32,
    pub max_attempts: i32,
    pub run_at: Millis,
    pub lease_until: Option<Millis>,
    pub worker: Option<String>,
    pub unique_key: Option<String>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// How many times the job's worker stopped (its lease expired) while the job ran. A job rescued once is a
    /// suspect: it runs again alone on its worker, and a second stop fails it (see `JobQueue::rescue_expired`).
    #[serde(default)]
    pub orphaned: i32,
}

impl Job {
    /// Whether the job must run alone on its worker, having been running once when its worker stopped.
    pub fn is_suspect(&self) -> bool {
        self.orphaned > 0
    }
}
