//! Running one claimed job.
//!
//! The stage runs in its own task, so a panic becomes a permanent failure of
//! that job (a bug, logged) instead of taking the worker down, and under a
//! timeout, so a stuck stage ends. Fail points (see `failpoints`) are applied here. Besides
//! stages, the worker runs document deletions (`delete`), the one job kind
//! that is a saga of steps rather than a stage.

use crate::delete::DELETE_KIND;
use crate::failpoints::Action;
use crate::pipeline::{stage_of, STAGE_KIND};
use crate::Engine;
use bindery_core::Job;
use bindery_pipeline::{References, StageContext, StageError, StageOutput};
use std::time::Instant;

/// The kind of job the queue benchmark enqueues: it does nothing.
pub const NOOP_KIND: &str = "noop";

/// What no-op jobs observed, for `bindery bench queue`: how many ran, and
/// for those whose payload carries `enqueued_ns` (wall clock, nanoseconds),
/// the delay from enqueue to start.
pub mod probe {
    use std::sync::atomic::AtomicU64;
    use std::sync::Mutex;

    pub static RUN: AtomicU64 = AtomicU64::new(0);
    pub static START_LATENCIES_NS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

    pub fn now_ns() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
    }
}

/// A finished attempt, waiting to be settled.
pub struct Attempt {
    pub job: Job,
    pub result: Result<StageOutput, StageError>,
    pub duration_ms: i64,
    /// Blobs the stage noted it relied on ([`References`]), whatever the result.
    pub references: Vec<String>,
}

impl Engine {
    pub(crate) async fn run_job(&self, job: Job) -> Attempt {
        let started = Instant::now();
        let references = References::default();
        let result = match job.kind.as_str() {
            NOOP_KIND => {
                if let Some(t) = job.payload["enqueued_ns"].as_u64() {
                    let lat = probe::now_ns().saturating_sub(t);
                    probe::START_LATENCIES_NS.lock().unwrap().push(lat);
                }
                probe::RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(StageOutput::default())
            }
            STAGE_KIND | DELETE_KIND => {
                let engine = self.clone();
                let j = job.clone();
                let noted = references.clone();
                let task = tokio::spawn(async move {
                    match j.kind.as_str() {
                        STAGE_KIND => engine.run_stage(&j, noted).await,
                        _ => engine.run_delete(&j).await,
                    }
                });
                let what = if job.kind == STAGE_KIND { "stage" } else { "job" };
                match task.await {
                    Ok(r) => r,
                    // A panic is a bug, and the same document would most likely meet it again: the document fails
                    // at once, in words its owner can act on, and the panic's own message goes to the log for
                    // whoever fixes the bug.
                    Err(e) if e.is_panic() => {
                        tracing::error!(job = %job.id, kind = %job.kind, panic = %panic_message(e), "{what} panicked");
                        Err(StageError::Permanent(format!(
                            "Bindery stopped on an internal error in this {what} (a bug, logged by the worker); \
                             retry the document once Bindery is updated"
                        )))
                    }
                    Err(e) => Err(StageError::Retryable(format!("{what} task ended: {e}"))),
                }
            }
            other => Err(StageError::Permanent(format!("unknown job kind {other:?}"))),
        };
        Attempt { job, result, duration_ms: started.elapsed().as_millis() as i64, references: references.keys() }
    }

    async fn run_stage(&self, job: &Job, references: References) -> Result<StageOutput, StageError> {
        let name = stage_of(job);
        let doc =
            job.document.as_deref().ok_or_else(|| StageError::Permanent("stage job without a document".into()))?;
        let stage = self
            .registry()
            .stage(name)
            .ok_or_else(|| StageError::Permanent(format!("no stage named {name:?} is registered")))?
            .clone();
        let document = self
            .store()
            .document(doc)
            .await
            .map_err(|e| StageError::Retryable(format!("loading document: {e}")))?
            .ok_or_else(|| StageError::Permanent(format!("document {doc} has no state")))?;
        // A document runs to the end on the pipeline version it started with, or not at all.
        self.registry().pipeline_of(&document).map_err(StageError::Permanent)?;
        self.failpoint(name, job.attempt).await?;
        // Trait upcasting: the stage gets only the search capability.
        let search: std::sync::Arc<dyn bindery_store::SearchIndex> = self.store().clone();
        let ctx = StageContext { document, blobs: self.blobs().clone(), search: Some(search), references };
        let limit = stage.timeout();
        match tokio::time::timeout(limit, stage.run(&ctx)).await {
            Ok(r) => r,
            Err(_) => Err(StageError::Retryable(format!("stage {name} timed out after {} s", limit.as_secs()))),
        }
    }
}

impl Engine {
    /// Applies the fail point named `name` (a stage, or a step of another job kind) to attempt `attempt`.
    pub(crate) async fn failpoint(&self, name: &str, attempt: i32) -> Result<(), StageError> {
        match self.options().failpoints.get(name) {
            Some(Action::FailUntil(n)) if attempt <= n => {
                Err(StageError::Retryable(format!("fail point: attempt {attempt} of {n} injected failures")))
            }
            Some(Action::FailAlways) => Err(StageError::Retryable("fail point: injected failure".into())),
            Some(Action::Permanent) => Err(StageError::Permanent("fail point: injected permanent failure".into())),
            Some(Action::Sleep(d)) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Some(Action::Panic) => panic!("fail point: injected panic in {name}"),
            _ => Ok(()),
        }
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    let p = e.into_panic();
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
