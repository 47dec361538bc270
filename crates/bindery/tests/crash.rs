//! A worker process is SIGKILLed in the middle of a run; a new worker
//! finishes it. Nothing is lost, nothing happens twice, and the jobs the
//! kill interrupted lose no attempt.

mod harness;

use bindery_core::JobState;
use harness::{assert_exactly_once, Cli};
use std::time::{Duration, Instant};

const DOCS: usize = 24;

async fn crash_and_recover(cli: Cli) {
    let ids = cli.submit(&cli.books(DOCS));
    let store = cli.store().await;
    // Slow stages so the kill lands while jobs are running.
    let slow = "structure=sleep(60);index=sleep(60)";
    let mut victim = cli.spawn(&["worker", "--concurrency", "4", "--lease-secs", "1"], slow);
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        assert!(Instant::now() < deadline, "the first worker made no progress");
        let ready = store.documents("", 1000).await.unwrap().iter().filter(|d| d.status.as_str() == "ready").count();
        let running = store.jobs(Some(JobState::Running), 0, 10).await.unwrap().len();
        if ready >= 5 && running > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    victim.kill().expect("SIGKILL the worker");
    victim.wait().unwrap();
    let orphaned: Vec<i64> = store.jobs(Some(JobState::Running), 0, 100).await.unwrap().iter().map(|j| j.id).collect();
    assert!(!orphaned.is_empty(), "the kill left running jobs behind");

    let mut rescuer = cli.spawn(&["worker", "--concurrency", "4", "--lease-secs", "1", "--exit-when-idle"], "");
    let deadline = Instant::now() + Duration::from_secs(400);
    while rescuer.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the second worker did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rescuer.wait().unwrap().success());
    assert_eq!(assert_exactly_once(&store, &ids).await, DOCS);
    for id in orphaned {
        let job = store.job(id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Completed);
        // Run again after the crash, alone, and not charged for it: the kill was not the job's doing.
        assert_eq!((job.orphaned, job.attempt), (1, 1), "job {id}");
    }
    let all = store.jobs(None, 0, 10_000).await.unwrap();
    assert_eq!(all.len(), DOCS * 9, "nine stages per document");
    assert!(all.iter().all(|j| j.state == JobState::Completed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_worker_killed_mid_run() {
    crash_and_recover(Cli::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_worker_killed_mid_run() {
    let Some(cli) = Cli::postgres().await else { return };
    crash_and_recover(cli).await;
}

/// Four worker processes on one PostgreSQL, a few hundred documents: each
/// processed once, and the `index` queue's limit of 2 holds across them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_four_workers_share_the_work() {
    let Some(cli) = Cli::postgres().await else { return };
    const N: usize = 80;
    let ids = cli.submit(&cli.books(N));
    assert!(cli.run(&["limit", "index", "2"]).status.success());
    let store = cli.store().await;
    let mut workers: Vec<_> =
        (0..4).map(|_| cli.spawn(&["worker", "--concurrency", "4", "--exit-when-idle"], "index=sleep(15)")).collect();
    let mut max_running = 0;
    let deadline = Instant::now() + Duration::from_secs(480);
    while workers.iter_mut().any(|w| w.try_wait().unwrap().is_none()) {
        assert!(Instant::now() < deadline, "workers did not finish");
        let stats = store.queue_stats().await.unwrap();
        let running = stats.iter().find(|s| s.queue == "index" && s.state == "running").map(|s| s.count).unwrap_or(0);
        max_running = max_running.max(running);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    for w in &mut workers {
        assert!(w.wait().unwrap().success());
    }
    assert!(max_running <= 2, "saw {max_running} index jobs running at once, limit 2");
    assert_eq!(max_running, 2, "the limit was reached, so it was exercised");
    assert_eq!(assert_exactly_once(&store, &ids).await, N);
    let jobs = store.jobs(None, 0, 10_000).await.unwrap();
    assert!(jobs.iter().all(|j| j.state == JobState::Completed && j.attempt == 1), "every job ran once");
    let by_worker: std::collections::HashSet<_> = jobs.iter().filter_map(|j| j.worker.clone()).collect();
    assert!(by_worker.len() >= 2, "work was shared: {by_worker:?}");
}
