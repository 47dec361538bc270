//! Operator actions: retry dead jobs, cancel, rebuild projections.
//!
//! Each is one commit that records the fact as an event (a retried document
//! goes back to `processing`, a cancelled one to `cancelled`) together with
//! the job changes, so the log stays the source of truth. A cancelled
//! document's stages are then told, so remote work they left running (a
//! language-model provider's batch) is cancelled too.

use crate::pipeline::{run_of, stage_job, stage_of, Trace, STAGE_KIND};
use crate::{Engine, EngineError};
use bindery_core::event::{self, DocumentCancelled};
use bindery_core::time::now_ms;
use bindery_core::{DocumentState, DocumentStatus, Expected, Job, JobState, NewEvent};
use bindery_store::{Append, Commit};
use serde_json::json;
use std::time::Duration;

/// How long a cancellation waits for each stage to give up its remote work (a provider's batch).
const REMOTE_CANCEL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetryReport {
    pub jobs: u64,
    pub documents: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CancelReport {
    pub jobs: u64,
    pub document: Option<String>,
}

impl Engine {
    /// Revives one dead (or cancelled) job.
    pub async fn retry_job(&self, id: i64) -> Result<RetryReport, EngineError> {
        let job = self.store().job(id).await?.ok_or_else(|| EngineError::NotFound(format!("job {id}")))?;
        if !matches!(job.state, JobState::Dead | JobState::Cancelled) {
            return Err(EngineError::Invalid(format!(
                "job {id} is {}, only dead or cancelled jobs can be retried",
                job.state
            )));
        }
        self.revive(vec![job]).await
    }

    /// Revives every dead job.
    pub async fn retry_all_dead(&self) -> Result<RetryReport, EngineError> {
        let mut total = RetryReport::default();
        loop {
            let dead = self.store().jobs(Some(JobState::Dead), 0, 500).await?;
            if dead.is_empty() {
                return Ok(total);
            }
            let r = self.revive(dead).await?;
            total.jobs += r.jobs;
            total.documents.extend(r.documents);
        }
    }

    async fn revive(&self, jobs: Vec<Job>) -> Result<RetryReport, EngineError> {
        retry_on_conflict(|| self.revive_once(&jobs)).await
    }

    async fn revive_once(&self, jobs: &[Job]) -> Result<RetryReport, EngineError> {
        let now = now_ms();
        let mut c = Commit { revive: jobs.iter().map(|j| j.id).collect(), ..Default::default() };
        let mut docs: Vec<String> =
            jobs.iter().filter(|j| j.kind == STAGE_KIND).filter_map(|j| j.document.clone()).collect();
        docs.sort();
        docs.dedup();
        let mut reopened = Vec::new();
        for doc in docs {
            let Some(state) = self.store().document(&doc).await? else { continue };
            if !matches!(state.status, DocumentStatus::Failed | DocumentStatus::Cancelled) {
                continue;
            }
            // A job of an earlier run (before a reprocess) reopens nothing: its result will be ignored.
            if !jobs.iter().any(|j| j.document.as_deref() == Some(doc.as_str()) && run_of(j) == state.run) {
                continue;
            }
            let ev = NewEvent::new(event::DOCUMENT_RETRIED, json!({"jobs": c.revive}));
            c.appends.push(Append { stream: doc.clone(), expected: Expected::Exact(state.version), events: vec![ev] });
            // Stages that became runnable while the document was failed were
            // never enqueued; unique keys drop those that exist.
            if let Ok(p) = self.registry().pipeline_of(&state) {
                for stage in crate::pipeline::runnable(&state, p) {
                    let t = Trace { run: state.run, correlation: &doc, causation: &doc };
                    c.enqueue.push(stage_job(&doc, p, &stage, t, self.options(), now));
                }
            }
            reopened.push(doc);
        }
        let out = self.store().commit(c, now).await?;
        Ok(RetryReport { jobs: out.revived, documents: reopened })
    }

    /// Cancels a document (by id) and all its unfinished jobs, or one job (by
    /// number). Running jobs stop at their next heartbeat.
    pub async fn cancel(&self, id: &str) -> Result<CancelReport, EngineError> {
        retry_on_conflict(|| self.cancel_once(id)).await
    }

    async fn cancel_once(&self, id: &str) -> Result<CancelReport, EngineError> {
        let now = now_ms();
        if let Ok(job) = id.parse::<i64>() {
            let found = self.store().job(job).await?.ok_or_else(|| EngineError::NotFound(format!("job {job}")))?;
            let out = self.store().commit(Commit { cancel_jobs: vec![found.id], ..Default::default() }, now).await?;
            return Ok(CancelReport { jobs: out.cancelled, document: None });
        }
        let state = self.store().document(id).await?.ok_or_else(|| EngineError::NotFound(format!("document {id}")))?;
        if state.status.is_terminal() {
            return Err(EngineError::Invalid(format!("document {id} is already {}", state.status.as_str())));
        }
        let ev =
            NewEvent::new(event::DOCUMENT_CANCELLED, DocumentCancelled { reason: "cancelled by an operator".into() });
        let c = Commit {
            appends: vec![Append { stream: id.to_owned(), expected: Expected::Exact(state.version), events: vec![ev] }],
            cancel_documents: vec![id.to_owned()],
            ..Default::default()
        };
        let out = self.store().commit(c, now).await?;
        self.cancel_remote_work(&state).await;
        Ok(CancelReport { jobs: out.cancelled, document: Some(id.to_owned()) })
    }

    /// Tells every stage that `document` was cancelled (or is being deleted), so remote work it left running (a
    /// provider's batch) stops being billed. Best effort and bounded: the cancellation itself is already committed,
    /// and a failure here only costs money, so it is logged, not returned.
    pub(crate) async fn cancel_remote_work(&self, document: &DocumentState) {
        for (name, stage) in self.registry().stages() {
            self.cancel_stage_remote_work(name, stage.as_ref(), document).await;
        }
    }

    async fn cancel_stage_remote_work(
        &self,
        name: &str,
        stage: &dyn bindery_pipeline::Stage,
        document: &DocumentState,
    ) {
        match tokio::time::timeout(REMOTE_CANCEL_TIMEOUT, stage.cancelled(document)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(document = %document.id, stage = name, error = %e, "remote work not cancelled")
            }
            Err(_) => tracing::warn!(document = %document.id, stage = name, "cancelling remote work timed out"),
        }
    }

    /// A running job lost its lease: it was cancelled, or another worker took it over after missed heartbeats.
    /// The stages were told of a cancellation when it committed, but this job may have started remote work in
    /// that very instant (a batch created just after the stage looked for one to cancel), so when its document
    /// is cancelled or being deleted, the job's stage is told again now that the job has stopped. A job taken
    /// over is left alone: its new worker finds the remote work again and uses it.
    pub(crate) async fn after_lost(&self, job: &Job) {
        let Some(document) = job.document.as_deref() else { return };
        let name = stage_of(job);
        let Some(stage) = self.registry().stage(name) else { return };
        match self.store().document(document).await {
            Ok(Some(state)) if matches!(state.status, DocumentStatus::Cancelled | DocumentStatus::Deleting) => {
                self.cancel_stage_remote_work(name, stage.as_ref(), &state).await
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(document, error = %e, "cannot tell whether a lost job's remote work must stop"),
        }
    }

    /// Rebuilds every projection from the log; returns how many documents.
    pub async fn replay(&self) -> Result<u64, EngineError> {
        Ok(self.store().rebuild_projections().await?)
    }
}

/// Runs an operator action again when a worker advanced the document between
/// its read and its commit (a version conflict): the action re-reads the
/// state and decides afresh.
pub(crate) async fn retry_on_conflict<T, F, Fut>(mut action: F) -> Result<T, EngineError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, EngineError>>,
{
    let mut round = 0;
    loop {
        match action().await {
            Err(EngineError::Store(e)) if e.is_conflict() && round < 20 => {
                round += 1;
                tokio::time::sleep(std::time::Duration::from_millis(2 << round.min(6))).await;
            }
            other => return other,
        }
    }
}
