//! How stage results become events and follow-up jobs.
//!
//! Pure functions of the document's current state: the worker loads the
//! state, calls these, and commits the result with the state's version as
//! the expected stream version, so two completions racing on one document
//! cannot both advance it from the same state.

use crate::run::Attempt;
use crate::EngineOptions;
use bindery_core::event::{self, DocumentFailed, StageCompleted, StageFailed};
use bindery_core::time::Millis;
use bindery_core::{DocumentState, DocumentStatus, Job, NewEvent, NewJob, Pipeline};
use bindery_pipeline::{StageError, StageOutput};
use bindery_store::Outcome;

use serde_json::json;

pub const STAGE_KIND: &str = "stage";

/// Ids and numbers a stage job carries besides its stage.
#[derive(Clone, Copy, Debug)]
pub struct Trace<'a> {
    /// The run of the document (see `DocumentState::run`).
    pub run: i64,
    pub correlation: &'a str,
    pub causation: &'a str,
}

/// The job that runs `stage` for `document` in run `t.run`. Its unique key makes enqueueing it twice (two racing
/// completions, a replayed commit) harmless. The first run keeps the original key `doc:pipeline:vN:stage`; a later
/// run (reprocessing, an upload after deletion) adds `:rR`, so its jobs are not dropped as duplicates of the first.
pub fn stage_job(document: &str, p: &Pipeline, stage: &str, t: Trace<'_>, opts: &EngineOptions, now: Millis) -> NewJob {
    let run = if t.run > 1 { format!(":r{}", t.run) } else { String::new() };
    NewJob {
        queue: stage.to_owned(),
        kind: STAGE_KIND.to_owned(),
        document: Some(document.to_owned()),
        payload: json!({"stage": stage, "pipeline": p.name, "version": p.version, "run": t.run,
                        "correlation": t.correlation, "causation": t.causation}),
        priority: 0,
        run_at: now,
        max_attempts: opts.max_attempts,
        unique_key: Some(format!("{document}:{}:v{}{run}:{stage}", p.name, p.version)),
    }
}

/// The run a stage job belongs to (jobs from before runs were numbered belong to the first).
pub fn run_of(job: &Job) -> i64 {
    job.payload["run"].as_i64().unwrap_or(1)
}

pub fn stage_of(job: &Job) -> &str {
    job.payload["stage"].as_str().unwrap_or(&job.queue)
}

fn ids(job: &Job) -> (Option<&str>, Option<&str>) {
    (job.payload["correlation"].as_str(), job.payload["causation"].as_str())
}

/// Events and jobs for a successful stage run: `attempt`, whose result was `out`.
pub fn on_success(
    state: &DocumentState,
    p: &Pipeline,
    attempt: &Attempt,
    out: StageOutput,
    opts: &EngineOptions,
    now: Millis,
) -> (Vec<NewEvent>, Vec<NewJob>) {
    let job = &attempt.job;
    let stage = stage_of(job);
    let (correlation, causation) = ids(job);
    let completed = NewEvent::new(
        event::STAGE_COMPLETED,
        StageCompleted {
            stage: stage.into(),
            attempt: job.attempt,
            duration_ms: attempt.duration_ms,
            outputs: out.outputs,
            summary: out.summary,
            references: attempt.references.clone(),
        },
    )
    .correlated(correlation, causation);
    let cause = completed.id.0.clone();
    let mut events = vec![completed];
    let mut jobs = Vec::new();
    if state.status == DocumentStatus::Processing {
        let done = state.done();
        let t = Trace { run: state.run, correlation: correlation.unwrap_or(&cause), causation: &cause };
        for next in p.unblocked_by(stage, &done) {
            jobs.push(stage_job(&state.id, p, next, t, opts, now));
        }
        let mut all = done;
        all.insert(stage.to_owned());
        if p.is_complete(&all) {
            events.push(NewEvent::new(event::DOCUMENT_READY, json!({})).correlated(correlation, Some(&cause)));
        }
    }
    (events, jobs)
}

/// What a failed attempt leads to: a retry after backoff, or a dead job
/// (permanent error, or no attempts left) that fails the document.
pub struct Failure {
    pub events: Vec<NewEvent>,
    /// `Some(run_at)` to retry, `None` when the job is dead.
    pub retry_at: Option<Millis>,
    /// The message the job keeps as its last error.
    pub error: String,
    /// A wait (`StageError::Wait`), not a failure: the attempt is given back.
    pub wait: bool,
}

impl Failure {
    /// How the job row is settled.
    pub fn outcome(&self) -> Outcome {
        match (self.retry_at, self.wait) {
            (Some(run_at), true) => Outcome::Wait { run_at, note: self.error.clone() },
            (Some(run_at), false) => Outcome::Retry { run_at, error: self.error.clone() },
            (None, _) => Outcome::Dead { error: self.error.clone() },
        }
    }
}

/// Whether a failed attempt was the job's last, the error to keep, and when to retry otherwise: the policy every job
/// kind shares.
pub fn give_up_or_retry(
    job: &Job,
    err: &StageError,
    opts: &EngineOptions,
    now: Millis,
) -> (bool, String, Option<Millis>) {
    let dead = !err.is_retryable() || job.attempt >= job.max_attempts;
    let error = if dead && err.is_retryable() {
        format!("{err} (gave up after {} attempts)", job.attempt)
    } else {
        err.to_string()
    };
    let retry_at = (!dead).then(|| now + opts.retry.delay(job.attempt, &mut rand::thread_rng()).as_millis() as i64);
    (dead, error, retry_at)
}

/// `references` are the blobs the attempt noted it relied on: the document holds them even though the attempt failed
/// (a model's answers to the chapters it reached, cached for the next attempt), so deleting it deletes them too.
pub fn on_failure(job: &Job, err: &StageError, references: Vec<String>, opts: &EngineOptions, now: Millis) -> Failure {
    if let StageError::Wait { after, note } = err {
        // Nothing happened to the document: no event, and the job runs again later without losing an attempt.
        let retry_at = Some(now + after.as_millis() as i64);
        return Failure { events: vec![], retry_at, error: note.clone(), wait: true };
    }
    let stage = stage_of(job);
    let (correlation, causation) = ids(job);
    let (dead, error, retry_at) = give_up_or_retry(job, err, opts, now);
    let failed = StageFailed {
        stage: stage.into(),
        attempt: job.attempt,
        error: error.clone(),
        permanent: !err.is_retryable(),
        dead,
        references,
    };
    let mut events = vec![NewEvent::new(event::STAGE_FAILED, failed).correlated(correlation, causation)];
    if dead && job.document.is_some() {
        let reason = DocumentFailed { stage: stage.into(), reason: error.clone() };
        events.push(NewEvent::new(event::DOCUMENT_FAILED, reason).correlated(correlation, causation));
    }
    Failure { events, retry_at, error, wait: false }
}

/// Stages whose prerequisites are done but which are not complete: what a
/// retried document must have queued. Unique keys drop those already there.
pub fn runnable(state: &DocumentState, p: &Pipeline) -> Vec<String> {
    let done = state.done();
    p.stages()
        .iter()
        .filter(|s| !done.contains(&s.name) && s.after.iter().all(|d| done.contains(d)))
        .map(|s| s.name.clone())
        .collect()
}
