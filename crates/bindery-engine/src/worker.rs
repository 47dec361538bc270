//! The worker service: claim, run, heartbeat, settle, rescue.
//!
//! One loop claims as many jobs as it has free slots (a semaphore of
//! `concurrency` permits), waking on the store's "jobs enqueued"
//! notification or, failing that, every `poll`. Each job runs in its own
//! task; finished attempts go to one settler task that commits them in
//! batches. A heartbeat task extends the leases of running jobs and aborts
//! those the store says are no longer ours (cancelled, or taken over), then
//! lets the engine stop remote work a cancelled job may have left running. A
//! rescuer puts jobs of dead workers back in the queue.
//!
//! A worker that dies (outside the sandboxed parsers: an abort, the kernel's
//! out-of-memory killer) takes all its running jobs with it, and only one of
//! them may be the cause. So a rescued job loses no attempt and becomes a
//! suspect, which a worker runs alone: it lets what it runs finish, then
//! holds every slot for the suspect. A suspect whose worker stops again is
//! the cause and fails at once; the others finish on their own.

use crate::run::Attempt;
use crate::Engine;
use bindery_core::time::now_ms;
use bindery_core::Job;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::{AbortHandle, JoinHandle};
use tokio_util::sync::CancellationToken;

/// Worker settings. CLI flags and `BINDERY_*` variables map onto these.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Unique per process; appears in job rows and logs.
    pub id: String,
    /// Jobs run at once by this worker.
    pub concurrency: usize,
    /// Queues served; empty serves all.
    pub queues: Vec<String>,
    /// How long a claim stays valid without a heartbeat. A killed worker's
    /// jobs run again elsewhere this long after its last heartbeat.
    pub lease: Duration,
    /// How often leases are extended; a third of `lease` by default.
    pub heartbeat: Duration,
    /// Fallback polling interval when no notification arrives.
    pub poll: Duration,
    /// Most jobs claimed by one query.
    pub claim_batch: usize,
    /// Stop when no job is available or running anywhere.
    pub exit_when_idle: bool,
    /// How often to publish `bindery_queue_depth{queue,state}`; off when
    /// `None` (it counts every job, so only metrics endpoints turn it on).
    pub depth_every: Option<Duration>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        let lease = Duration::from_secs(30);
        Self {
            id: default_worker_id(),
            concurrency: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            queues: Vec::new(),
            lease,
            heartbeat: lease / 3,
            poll: Duration::from_secs(1),
            claim_batch: 256,
            exit_when_idle: false,
            depth_every: None,
        }
    }
}

/// `host-pid-xxxx`: readable in job rows, unique across restarts.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!("{host}-{}-{:04x}", std::process::id(), rand::random::<u16>())
}

/// Counts of what a worker did, returned when it stops.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub claimed: usize,
    pub settled: usize,
}

pub struct Worker {
    engine: Engine,
    opts: WorkerOptions,
}

/// A running worker.
pub struct WorkerHandle {
    shutdown: CancellationToken,
    task: JoinHandle<WorkerStats>,
}

impl WorkerHandle {
    /// Stops claiming, lets running jobs finish and settle, and returns.
    pub async fn shutdown(self) -> WorkerStats {
        self.shutdown.cancel();
        self.join().await
    }

    /// Waits until the worker stops by itself (`exit_when_idle`).
    pub async fn join(self) -> WorkerStats {
        self.task.await.unwrap_or_default()
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// The jobs this worker runs, by id: how to stop each, and, for a job of a
/// document, the job itself for what follows a lost lease
/// ([`Engine::after_lost`], which has nothing to do for other jobs).
type Running = Arc<Mutex<HashMap<i64, (AbortHandle, Option<Job>)>>>;

/// Counts a claimed job until its result is settled, or until its task is
/// aborted or its result dropped: whichever way a job leaves, the count
/// goes down exactly once, so shutdown and `exit_when_idle` never wait for
/// a job that is gone.
struct Pending(Arc<AtomicUsize>);

impl Pending {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What starting a claimed job needs: the job runs in its own task, holding its slot (`permit`, every slot for a
/// suspect) until it is done, and sends its attempt to the settler.
struct Launch {
    engine: Engine,
    tx: mpsc::UnboundedSender<(Attempt, Pending)>,
    pending: Arc<AtomicUsize>,
    running: Running,
}

impl Launch {
    fn start(&self, job: Job, permit: OwnedSemaphorePermit) {
        metrics::counter!("bindery_jobs_claimed_total", "queue" => job.queue.clone()).increment(1);
        let engine = self.engine.clone();
        let tx = self.tx.clone();
        let id = job.id;
        let copy = job.document.is_some().then(|| job.clone());
        let span = tracing::info_span!("job", job = id, queue = %job.queue, document = job.document.as_deref().unwrap_or(""),
            correlation = job.payload["correlation"].as_str().unwrap_or(""), attempt = job.attempt);
        let counted = Pending::new(&self.pending);
        let running = self.running.clone();
        // Hold the map while spawning, so the task cannot remove its entry before it is inserted.
        let mut map = self.running.lock().unwrap();
        let handle = tokio::spawn(tracing::Instrument::instrument(
            async move {
                let attempt = engine.run_job(job).await;
                running.lock().unwrap().remove(&id);
                // If the settler is gone the result is dropped with its count; the lease expires and the job runs
                // again.
                let _ = tx.send((attempt, counted));
                drop(permit);
            },
            span,
        ));
        map.insert(id, (handle.abort_handle(), copy));
    }
}

impl Worker {
    pub fn new(engine: Engine, opts: WorkerOptions) -> Self {
        Self { engine, opts }
    }

    pub fn run(self) -> WorkerHandle {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(self.main(shutdown.clone()));
        WorkerHandle { shutdown, task }
    }

    async fn main(self, shutdown: CancellationToken) -> WorkerStats {
        let Worker { engine, opts } = self;
        let store = engine.store().clone();
        let slots = Arc::new(Semaphore::new(opts.concurrency.max(1)));
        let running: Running = Arc::default();
        let pending = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::unbounded_channel::<(Attempt, Pending)>();
        let background = CancellationToken::new();
        let settler = tokio::spawn(settler(engine.clone(), opts.id.clone(), rx));
        let heart = tokio::spawn(heartbeats(engine.clone(), opts.clone(), running.clone(), background.clone()));
        let rescue = tokio::spawn(rescuer(engine.clone(), opts.clone(), background.clone()));
        let depth = opts.depth_every.map(|every| tokio::spawn(depths(engine.clone(), every, background.clone())));
        let mut stats = WorkerStats::default();
        tracing::info!(worker = %opts.id, concurrency = opts.concurrency, "worker started");
        let every_slot = opts.concurrency.max(1) as u32;
        let launch =
            Launch { engine: engine.clone(), tx: tx.clone(), pending: pending.clone(), running: running.clone() };
        // Suspects (jobs that were running when their worker stopped) run alone, so that a document that kills its
        // worker is caught at its second stop and never takes another document with it. A rescue is rare, so the
        // store is asked about them at most once a poll interval, not at every claim.
        let mut suspect_checked: Option<tokio::time::Instant> = None;
        loop {
            let first = tokio::select! {
                p = slots.clone().acquire_owned() => p.expect("semaphore is never closed"),
                _ = shutdown.cancelled() => break,
            };
            if suspect_checked.is_none_or(|t| t.elapsed() >= opts.poll) {
                suspect_checked = Some(tokio::time::Instant::now());
                if matches!(store.suspect_waiting(&opts.queues, now_ms()).await, Ok(true)) {
                    // Let what runs finish, then take the suspect holding every slot.
                    drop(first);
                    let all = tokio::select! {
                        p = slots.clone().acquire_many_owned(every_slot) => p.expect("semaphore is never closed"),
                        _ = shutdown.cancelled() => break,
                    };
                    let now = now_ms();
                    match store.claim_suspect(&opts.id, &opts.queues, now + opts.lease.as_millis() as i64, now).await {
                        Ok(Some(job)) => {
                            tracing::warn!(job = job.id, queue = %job.queue, "running alone a job whose worker stopped while it ran");
                            stats.claimed += 1;
                            launch.start(job, all);
                            // Another suspect may wait: look again as soon as this one is done.
                            suspect_checked = None;
                        }
                        Ok(None) => drop(all),
                        Err(e) => tracing::warn!(error = %e, "claiming a suspect job failed"),
                    }
                    continue;
                }
            }
            let mut permits = vec![first];
            while permits.len() < opts.claim_batch {
                match slots.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            let notify = store.jobs_notify();
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = now_ms();
            let lease_until = now + opts.lease.as_millis() as i64;
            let jobs = match store.claim(&opts.id, &opts.queues, permits.len(), lease_until, now).await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "claim failed; retrying after the poll interval");
                    drop(permits);
                    tokio::select! { _ = tokio::time::sleep(opts.poll) => {}, _ = shutdown.cancelled() => break }
                    continue;
                }
            };
            if jobs.is_empty() {
                drop(permits);
                if opts.exit_when_idle
                    && running.lock().unwrap().is_empty()
                    && pending.load(Ordering::SeqCst) == 0
                    && idle(&engine).await
                {
                    break;
                }
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(opts.poll) => {}
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
            stats.claimed += jobs.len();
            for job in jobs {
                let permit = permits.pop().expect("claimed no more than the permits held");
                launch.start(job, permit);
            }
        }
        drop(launch);
        // Graceful stop: let running jobs finish and their results settle.
        let deadline = tokio::time::Instant::now() + opts.lease;
        while (!running.lock().unwrap().is_empty() || pending.load(Ordering::SeqCst) > 0)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        background.cancel();
        drop(tx);
        let _ = heart.await;
        let _ = rescue.await;
        if let Some(d) = depth {
            let _ = d.await;
        }
        stats.settled = settler.await.unwrap_or(0);
        tracing::info!(worker = %opts.id, claimed = stats.claimed, settled = stats.settled, "worker stopped");
        stats
    }
}

/// Whether no job is available (now or later) or running anywhere. One
/// read, so that a job the rescuer moves from running back to available in
/// between is never missed.
async fn idle(engine: &Engine) -> bool {
    matches!(engine.store().has_unfinished_jobs().await, Ok(false))
}

async fn settler(engine: Engine, worker: String, mut rx: mpsc::UnboundedReceiver<(Attempt, Pending)>) -> usize {
    let mut settled = 0;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(a) => batch.push(a),
                Err(_) => break,
            }
        }
        let (attempts, counted): (Vec<Attempt>, Vec<Pending>) = batch.into_iter().unzip();
        settled += engine.settle(&worker, attempts).await;
        drop(counted);
    }
    settled
}

async fn heartbeats(engine: Engine, opts: WorkerOptions, running: Running, stop: CancellationToken) {
    loop {
        tokio::select! { _ = tokio::time::sleep(opts.heartbeat) => {}, _ = stop.cancelled() => return }
        let ids: Vec<i64> = running.lock().unwrap().keys().copied().collect();
        if ids.is_empty() {
            continue;
        }
        let now = now_ms();
        match engine.store().heartbeat(&opts.id, &ids, now + opts.lease.as_millis() as i64, now).await {
            Ok(lost) => {
                let mut map = running.lock().unwrap();
                for id in lost {
                    if let Some((h, job)) = map.remove(&id) {
                        tracing::info!(job = id, "job cancelled or taken over; stopping it");
                        h.abort();
                        if let Some(job) = job {
                            let engine = engine.clone();
                            tokio::spawn(async move { engine.after_lost(&job).await });
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
        }
    }
}

async fn rescuer(engine: Engine, opts: WorkerOptions, stop: CancellationToken) {
    let every = (opts.lease / 2).max(Duration::from_millis(100));
    loop {
        match engine.store().rescue_expired(now_ms()).await {
            Ok(report) => {
                if report.rescued > 0 {
                    metrics::counter!("bindery_jobs_rescued_total").increment(report.rescued);
                    tracing::warn!(count = report.rescued, "rescued jobs whose worker stopped heartbeating");
                }
                for job in report.stopped_twice {
                    // Settled under the lost worker's name: the commit only applies while the job is still that
                    // worker's.
                    tracing::error!(job = job.id, queue = %job.queue, "a job stopped its worker twice, the second time alone; failing it");
                    let error = "processing stopped twice while working on this document, the second time with \
                                 nothing else running (a crash, or memory running out); it was set aside so that it \
                                 cannot stop the service again. Retry it once the cause is fixed"
                        .to_owned();
                    let worker = job.worker.clone().unwrap_or_default();
                    let attempt = Attempt {
                        job,
                        result: Err(bindery_pipeline::StageError::Permanent(error)),
                        duration_ms: 0,
                        references: vec![],
                    };
                    let _ = engine.settle(&worker, vec![attempt]).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "rescue failed"),
        }
        tokio::select! { _ = tokio::time::sleep(every) => {}, _ = stop.cancelled() => return }
    }
}

async fn depths(engine: Engine, every: Duration, stop: CancellationToken) {
    loop {
        match engine.store().queue_stats().await {
            Ok(stats) => {
                for s in stats {
                    metrics::gauge!("bindery_queue_depth", "queue" => s.queue, "state" => s.state).set(s.count as f64);
                }
            }
            Err(e) => tracing::warn!(error = %e, "reading queue depths failed"),
        }
        tokio::select! { _ = tokio::time::sleep(every) => {}, _ = stop.cancelled() => return }
    }
}
