//! Settling finished attempts: turning results into one commit.
//!
//! The worker hands finished attempts to a single settler, which commits
//! everything that has piled up in one transaction (batched completion).
//! If that batch fails — typically a version conflict with another worker
//! advancing the same document — each attempt is settled on its own, with
//! a fresh read of its document, until it lands or its lease is gone.
//! Deletion jobs settle here too (`delete::settle`): their end is a fact about
//! the document (`document.deleted`, or a failed deletion with compensation).

use crate::delete::{self, DELETE_KIND};
use crate::pipeline::{on_failure, on_success, run_of, stage_of, STAGE_KIND};
use crate::run::Attempt;
use crate::Engine;
use bindery_core::event::StoredEvent;
use bindery_core::time::now_ms;
use bindery_core::{DocumentState, Expected};
use bindery_store::{Append, Commit, Finish, Outcome, StoreError};
use std::collections::HashMap;
use std::time::Duration;

impl Engine {
    /// Settles a batch; returns how many attempts were settled.
    pub(crate) async fn settle(&self, worker: &str, batch: Vec<Attempt>) -> usize {
        if batch.len() > 1 {
            match self.build_commit(worker, &batch).await {
                Ok(c) => match self.store().commit(c, now_ms()).await {
                    Ok(_) => {
                        batch.iter().for_each(record);
                        return batch.len();
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, size = batch.len(), "batch settle failed; settling one by one")
                    }
                },
                Err(e) => tracing::debug!(error = %e, "building batch failed; settling one by one"),
            }
        }
        let mut settled = 0;
        for a in batch {
            settled += self.settle_one(worker, a).await as usize;
        }
        settled
    }

    async fn settle_one(&self, worker: &str, a: Attempt) -> bool {
        let one = std::slice::from_ref(&a);
        for round in 0..20u32 {
            let result = match self.build_commit(worker, one).await {
                Ok(c) => self.store().commit(c, now_ms()).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(_) => {
                    record(&a);
                    return true;
                }
                Err(StoreError::LeaseLost(id)) => {
                    tracing::info!(job = id, "job was cancelled or taken over; dropping its result");
                    let engine = self.clone();
                    tokio::spawn(async move { engine.after_lost(&a.job).await });
                    return false;
                }
                Err(e) if e.is_retryable() => {
                    tracing::debug!(job = a.job.id, error = %e, round, "settle retry");
                    tokio::time::sleep(Duration::from_millis(5 << round.min(8))).await;
                }
                Err(e) => {
                    // The lease will expire and the job will run again.
                    tracing::error!(job = a.job.id, error = %e, "cannot settle job");
                    return false;
                }
            }
        }
        tracing::error!(job = a.job.id, "gave up settling job after repeated conflicts");
        false
    }

    /// One commit for all attempts, each document advanced from its current
    /// state, attempts on the same document chained in order.
    async fn build_commit(&self, worker: &str, batch: &[Attempt]) -> Result<Commit, StoreError> {
        let now = now_ms();
        let mut states: HashMap<String, DocumentState> = HashMap::new();
        let mut c = Commit::default();
        for a in batch {
            let job = &a.job;
            if job.kind == DELETE_KIND {
                let doc = delete::document_of(job).unwrap_or_default().to_owned();
                if !states.contains_key(&doc) {
                    if let Some(s) = self.store().document(&doc).await? {
                        states.insert(doc.clone(), s);
                    }
                }
                let state = states.get(&doc);
                let (events, jobs, outcome) =
                    delete::settle(state, job, &a.result, self.registry(), self.options(), now);
                if let (Some(state), false) = (state, events.is_empty()) {
                    let expected = Expected::Exact(state.version);
                    match fold_appended(state.clone(), &doc, &events, now) {
                        Some(next) => states.insert(doc.clone(), next),
                        None => states.remove(&doc),
                    };
                    c.appends.push(Append { stream: doc, expected, events });
                }
                c.enqueue.extend(jobs);
                c.finish.push(Finish { job: job.id, worker: worker.into(), outcome });
                continue;
            }
            let doc = match (&job.document, job.kind.as_str()) {
                (Some(d), STAGE_KIND) => Some(d),
                _ => None,
            };
            if let Some(d) = doc.filter(|d| !states.contains_key(*d)) {
                if let Some(s) = self.store().document(d).await? {
                    states.insert(d.clone(), s);
                }
            }
            // A stage job of a deleted document (revived by hand after the deletion) ends without facts.
            let Some(doc) = doc.filter(|d| states.contains_key(*d)) else {
                let outcome = match &a.result {
                    Ok(_) => Outcome::Completed,
                    Err(e) => on_failure(job, e, vec![], self.options(), now).outcome(),
                };
                c.finish.push(Finish { job: job.id, worker: worker.into(), outcome });
                continue;
            };
            let state = &states[doc];
            let (events, outcome) = match &a.result {
                // A job of an earlier run (before a reprocess) has nothing to say about this one.
                _ if run_of(job) != state.run => (vec![], Outcome::Completed),
                Ok(_) if state.stages.get(stage_of(job)).is_some_and(|s| s.completed) => (vec![], Outcome::Completed),
                Ok(out) => match self.registry().pipeline_of(state) {
                    Ok(p) => {
                        let (events, jobs) = on_success(state, p, a, out.clone(), self.options(), now);
                        c.enqueue.extend(jobs);
                        (events, Outcome::Completed)
                    }
                    // The version the document started on left this process while the stage ran: nothing can
                    // follow from the result, so the document fails with the reason and may be reprocessed.
                    Err(reason) => {
                        let e = bindery_pipeline::StageError::Permanent(reason);
                        let f = on_failure(job, &e, a.references.clone(), self.options(), now);
                        let outcome = f.outcome();
                        (f.events, outcome)
                    }
                },
                Err(e) => {
                    let f = on_failure(job, e, a.references.clone(), self.options(), now);
                    let outcome = f.outcome();
                    (f.events, outcome)
                }
            };
            if !events.is_empty() {
                // Fold locally so a second attempt on this document in the
                // same batch expects the version this one produces.
                let expected = Expected::Exact(state.version);
                let next = fold_pending(state.clone(), doc, &events, now);
                c.appends.push(Append { stream: doc.clone(), expected, events });
                states.insert(doc.clone(), next);
            }
            c.finish.push(Finish { job: job.id, worker: worker.into(), outcome });
        }
        Ok(c)
    }
}

fn fold_pending(state: DocumentState, doc: &str, events: &[bindery_core::NewEvent], now: i64) -> DocumentState {
    fold_appended(state, doc, events, now).expect("stage events never delete a document")
}

/// The state after `events`; `None` once a document is deleted.
fn fold_appended(
    state: DocumentState,
    doc: &str,
    events: &[bindery_core::NewEvent],
    now: i64,
) -> Option<DocumentState> {
    let version = state.version;
    StoredEvent::appended(doc, version, 0, events, now)
        .iter()
        .try_fold(Some(state), DocumentState::apply)
        .expect("the engine's own events decode")
}

fn record(a: &Attempt) {
    let queue = a.job.queue.clone();
    match &a.result {
        Ok(_) => metrics::counter!("bindery_jobs_completed_total", "queue" => queue.clone()).increment(1),
        Err(bindery_pipeline::StageError::Wait { .. }) => {
            metrics::counter!("bindery_jobs_waiting_total", "queue" => queue.clone()).increment(1)
        }
        Err(_) => metrics::counter!("bindery_jobs_failed_total", "queue" => queue.clone()).increment(1),
    }
    metrics::histogram!("bindery_job_duration_seconds", "queue" => queue).record(a.duration_ms as f64 / 1000.0);
}
