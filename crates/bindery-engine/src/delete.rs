//! Deleting a document: a saga run by one durable job.
//!
//! [`Engine::delete_document`] commits `document.deleting` (the document is
//! now `deleting`; reads still work), cancels the document's jobs and
//! enqueues a `document.delete` job, all in one transaction. For a document
//! still processing, it then tells the stages, as a cancellation does, so
//! remote work left running for it (a provider's batch) is cancelled. The
//! job takes the steps in order, each idempotent, so a crashed worker's
//! attempt is simply run again:
//!
//! 1. cancel the document's pending jobs (again: an operator may have revived one);
//! 2. have its stages forget what they keep outside blob storage
//!    (`Stage::forget`: the book's search-index rows);
//! 3. commit `document.purging`: the point of no return;
//! 4. delete its blobs (original and artifacts), except those another live
//!    document still references (the store's `document_blobs` table);
//! 5. have the stages forget again (a stage that was running when the
//!    deletion began may have written before it noticed its cancellation).
//!
//! Settling the job's success commits `document.deleted`, which removes the
//! projection and its blob references; the stream keeps its history.
//!
//! Failure before step 3 is compensated: when the job gives up, settling it
//! appends `document.deletion_failed` with `compensated: true`, which puts the
//! document back in its previous status, and enqueues the jobs that restore
//! it (the stages that restore what they forgot, and a processing
//! document's runnable stages).
//! After step 3 nothing can be restored, so failures recover forward: the job
//! retries with backoff, and if it gives up it is a dead job for an operator
//! to retry while the document stays `deleting` and says why
//! (`deletion_error`).
//!
//! The race that remains: blob storage cannot join a database transaction, so
//! an upload of identical bytes to another project can commit its reference
//! between step 4's reference check and the blob's deletion, and then points at
//! a deleted blob. It is narrowed by checking references per blob right before
//! deleting it (not once at the start), by deleting blobs last, and by checking
//! again afterwards so that the loss is logged with the affected document
//! (whose stages then fail with a missing original; deleting it and uploading
//! again repairs it).

use crate::admin::retry_on_conflict;
use crate::pipeline::{give_up_or_retry, runnable, stage_job, Trace};
use crate::{Engine, EngineError, EngineOptions};
use bindery_core::event::{self, Deleted, Deleting, DeletionFailed, Purging, StoredEvent};
use bindery_core::time::{now_ms, Millis};
use bindery_core::{DocumentState, DocumentStatus, Expected, Job, NewEvent, NewJob};
use bindery_pipeline::{References, Registry, StageContext, StageError, StageOutput};
use bindery_store::{Append, Commit, Outcome};
use serde_json::json;

/// The job kind of a deletion.
pub const DELETE_KIND: &str = "document.delete";
/// The queue deletions run on.
pub const DELETE_QUEUE: &str = "delete";
/// Fail point checked after the stages forgot the document, before the point of no return.
pub const FAILPOINT: &str = "delete";
/// Fail point checked before the blobs are deleted, after the point of no return.
pub const FAILPOINT_BLOBS: &str = "delete.blobs";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteReport {
    /// False when a deletion of the document was already under way (deleting twice is harmless).
    pub started: bool,
}

impl Engine {
    /// Starts deleting a document: it becomes `deleting` and a job carries the deletion out.
    pub async fn delete_document(&self, id: &str, requested_by: Option<&str>) -> Result<DeleteReport, EngineError> {
        retry_on_conflict(|| self.delete_once(id, requested_by)).await
    }

    async fn delete_once(&self, id: &str, requested_by: Option<&str>) -> Result<DeleteReport, EngineError> {
        let now = now_ms();
        let state = self.store().document(id).await?.ok_or_else(|| EngineError::NotFound(format!("document {id}")))?;
        if state.status == DocumentStatus::Deleting {
            return Ok(DeleteReport { started: false });
        }
        let deleting = Deleting { previous: state.status, requested_by: requested_by.map(str::to_owned) };
        let ev = NewEvent::new(event::DOCUMENT_DELETING, deleting);
        let correlation = ev.id.0.clone();
        let job = NewJob {
            queue: DELETE_QUEUE.to_owned(),
            kind: DELETE_KIND.to_owned(),
            // Not the job's `document`: cancelling the document's jobs (step 1) must not cancel the deletion itself.
            document: None,
            payload: json!({"document": id, "correlation": correlation, "causation": correlation}),
            priority: 0,
            run_at: now,
            max_attempts: self.options().max_attempts,
            unique_key: Some(format!("{id}:delete:{}", state.version + 1)),
        };
        let c = Commit {
            appends: vec![Append {
                stream: id.to_owned(),
                expected: Expected::Exact(state.version),
                events: vec![ev.correlated(Some(&correlation), None)],
            }],
            cancel_documents: vec![id.to_owned()],
            enqueue: vec![job],
            ..Default::default()
        };
        self.store().commit(c, now).await?;
        tracing::info!(document = id, "deletion started");
        // As a cancellation does: remote work left running for a document still in progress (a provider's batch)
        // stops being billed. A finished document left none.
        if state.status == DocumentStatus::Processing {
            self.cancel_remote_work(&state).await;
        }
        Ok(DeleteReport { started: true })
    }

    /// One attempt of the saga; see the module documentation for the steps.
    pub(crate) async fn run_delete(&self, job: &Job) -> Result<StageOutput, StageError> {
        let doc = document_of(job).ok_or_else(|| StageError::Permanent("deletion job without a document".into()))?;
        let retry =
            |what: &'static str| move |e: bindery_store::StoreError| StageError::Retryable(format!("{what}: {e}"));
        let state = self.store().document(doc).await.map_err(retry("loading the document"))?;
        let Some(state) = state.filter(|s| s.status == DocumentStatus::Deleting) else {
            // Deleted already (a retried attempt after the final commit), or compensated: nothing to do.
            return Ok(StageOutput { outputs: vec![], summary: json!({"skipped": true}) });
        };
        let purging = state.deletion.as_ref().is_some_and(|d| d.purging);
        if !purging {
            let cancel = Commit { cancel_documents: vec![doc.to_owned()], ..Default::default() };
            self.store().commit(cancel, now_ms()).await.map_err(retry("cancelling the document's jobs"))?;
            self.forget(&state).await?;
            self.failpoint(FAILPOINT, job.attempt).await?;
            let mut doomed = Vec::new();
            for key in state.blob_keys() {
                if !self.held_elsewhere(doc, &key).await? {
                    doomed.push(key);
                }
            }
            let ev = NewEvent::new(event::DOCUMENT_PURGING, Purging { blobs: doomed })
                .correlated(job.payload["correlation"].as_str(), job.payload["causation"].as_str());
            let c = Commit {
                appends: vec![Append {
                    stream: doc.to_owned(),
                    expected: Expected::Exact(state.version),
                    events: vec![ev],
                }],
                ..Default::default()
            };
            self.store().commit(c, now_ms()).await.map_err(retry("recording the point of no return"))?;
        }
        self.failpoint(FAILPOINT_BLOBS, job.attempt).await?;
        let mut report = Deleted::default();
        for key in state.blob_keys() {
            if self.held_elsewhere(doc, &key).await? {
                report.kept.push(key);
                continue;
            }
            self.blobs().delete(&key).await.map_err(|e| {
                let msg = format!("deleting blob {key}: {e}");
                if e.is_retryable() {
                    StageError::Retryable(msg)
                } else {
                    StageError::Permanent(msg)
                }
            })?;
            if self.held_elsewhere(doc, &key).await? {
                tracing::error!(document = doc, blob = %key,
                    "a concurrent upload referenced this blob while it was being deleted; that document must be uploaded again");
            }
            report.deleted.push(key);
        }
        self.forget(&state).await?;
        let summary = serde_json::to_value(&report).expect("report serialises");
        Ok(StageOutput { outputs: vec![], summary })
    }

    /// Has every stage the document ran forget what it keeps outside blob storage (see `Stage::forget`).
    async fn forget(&self, state: &DocumentState) -> Result<(), StageError> {
        // Trait upcasting: a stage gets only the search capability, as when it runs.
        let search: std::sync::Arc<dyn bindery_store::SearchIndex> = self.store().clone();
        let ctx = StageContext {
            document: state.clone(),
            blobs: self.blobs().clone(),
            search: Some(search),
            references: References::default(),
        };
        for name in &state.stage_order {
            if let Some(stage) = self.registry().stage(name) {
                stage.forget(&ctx).await?;
            }
        }
        Ok(())
    }

    /// Whether a live document other than `doc` references blob `key`.
    async fn held_elsewhere(&self, doc: &str, key: &str) -> Result<bool, StageError> {
        let holders = self
            .store()
            .blob_holders(key)
            .await
            .map_err(|e| StageError::Retryable(format!("reading references of {key}: {e}")))?;
        Ok(holders.iter().any(|h| h != doc))
    }
}

/// The document a deletion job deletes.
pub(crate) fn document_of(job: &Job) -> Option<&str> {
    job.payload["document"].as_str()
}

/// What settling an attempt of a deletion commits: events for the document (whose current state is `state`), jobs
/// to enqueue, and how the job ends. Success appends `document.deleted`; giving up appends
/// `document.deletion_failed`, compensated (with the jobs that restore the document) before the point of no return.
pub(crate) fn settle(
    state: Option<&DocumentState>,
    job: &Job,
    result: &Result<StageOutput, StageError>,
    registry: &Registry,
    opts: &EngineOptions,
    now: Millis,
) -> (Vec<NewEvent>, Vec<NewJob>, Outcome) {
    let (correlation, causation) = (job.payload["correlation"].as_str(), job.payload["causation"].as_str());
    let deleting = state.filter(|s| s.status == DocumentStatus::Deleting);
    let err = match result {
        Ok(out) => {
            let events = match (deleting, out.summary.get("skipped")) {
                (Some(_), None) => {
                    let report: Deleted = serde_json::from_value(out.summary.clone()).unwrap_or_default();
                    vec![NewEvent::new(event::DOCUMENT_DELETED, report).correlated(correlation, causation)]
                }
                _ => vec![],
            };
            return (events, vec![], Outcome::Completed);
        }
        Err(e) => e,
    };
    let (dead, error, retry_at) = give_up_or_retry(job, err, opts, now);
    let Some(state) = deleting.filter(|_| dead) else {
        let outcome = match retry_at {
            Some(run_at) => Outcome::Retry { run_at, error },
            None => Outcome::Dead { error },
        };
        return (vec![], vec![], outcome);
    };
    let compensated = !state.deletion.as_ref().is_some_and(|d| d.purging);
    let failed = DeletionFailed { reason: error.clone(), compensated };
    let ev = NewEvent::new(event::DOCUMENT_DELETION_FAILED, failed).correlated(correlation, causation);
    let jobs = if compensated { restore_jobs(state, &ev, registry, opts, now) } else { vec![] };
    (vec![ev], jobs, Outcome::Dead { error })
}

/// The jobs that bring a document back after a compensated deletion: the completed stages that must run again to
/// restore what they forgot (`Stage::restore_after_forget`: the book's index rows), and, for a document that was
/// processing, its runnable stages (the deletion cancelled their jobs). Their unique keys carry the compensating event's version, so they are not duplicates of the
/// cancelled jobs.
fn restore_jobs(
    state: &DocumentState,
    ev: &NewEvent,
    registry: &Registry,
    opts: &EngineOptions,
    now: Millis,
) -> Vec<NewJob> {
    let Ok(p) = registry.pipeline_of(state) else { return vec![] };
    let stored = StoredEvent::appended(&state.id, state.version, 0, std::slice::from_ref(ev), now);
    let restored = stored.iter().try_fold(Some(state.clone()), DocumentState::apply);
    let Some(restored) = restored.expect("the engine's own events decode") else { return vec![] };
    let mut stages = Vec::new();
    if restored.status == DocumentStatus::Processing {
        stages = runnable(&restored, p);
    }
    for name in &restored.stage_order {
        let forgot = registry.stage(name).is_some_and(|stage| stage.restore_after_forget());
        if forgot && restored.stages.get(name).is_some_and(|s| s.completed) && !stages.contains(name) {
            stages.push(name.clone());
        }
    }
    let t = Trace { run: restored.run, correlation: &ev.id.0, causation: &ev.id.0 };
    stages
        .iter()
        .map(|stage| {
            let mut job = stage_job(&state.id, p, stage, t, opts, now);
            job.unique_key = job.unique_key.map(|k| format!("{k}:restore{}", restored.version));
            job
        })
        .collect()
}
