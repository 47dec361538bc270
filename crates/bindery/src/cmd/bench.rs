//! `bindery bench`: the queue and the event log under load, measured in
//! this process. Without an explicit `--database-url` each run uses a
//! scratch SQLite database in a temporary directory, so the figures are
//! not skewed by (and do not pollute) a real data dir.

use crate::config::{sqlite_url, Settings};
use anyhow::Result;
use bindery_core::time::now_ms;
use bindery_core::{Expected, NewEvent, NewJob};
use bindery_engine::worker::{Worker, WorkerOptions};
use bindery_engine::{probe, Engine, NOOP_KIND};
use bindery_store::{Append, Commit};
use serde_json::json;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const QUEUE: &str = "bench";

/// The engine to measure, and the scratch directory keeping it alive.
pub(super) async fn scratch(s: &Settings) -> Result<(Engine, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let mut s = s.clone();
    if !s.database_explicit {
        s.database_url = sqlite_url(dir.path());
    }
    s.data_dir = dir.path().to_owned();
    s.storage = dir.path().join("blobs").display().to_string();
    let engine = crate::open(&s, crate::engine_options(None)?).await?;
    Ok((engine, dir))
}

fn workers(engine: &Engine, n: usize, concurrency: usize) -> Vec<bindery_engine::worker::WorkerHandle> {
    (0..n)
        .map(|i| {
            let opts = WorkerOptions {
                id: format!("bench-{i}-{}", std::process::id()),
                concurrency,
                claim_batch: concurrency,
                queues: vec![QUEUE.into()],
                poll: Duration::from_millis(200),
                ..WorkerOptions::default()
            };
            Worker::new(engine.clone(), opts).run()
        })
        .collect()
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1e6
}

pub async fn queue(
    s: &Settings,
    jobs: usize,
    nworkers: usize,
    concurrency: usize,
    samples: usize,
    json: bool,
) -> Result<ExitCode> {
    let (engine, _dir) = scratch(s).await?;
    let store = engine.store().clone();
    let backend = store.backend();
    store.prune(Some(QUEUE), now_ms() + 1).await?;

    // 1. Enqueue, in commits of 1,000.
    let t = Instant::now();
    let mut left = jobs;
    while left > 0 {
        let n = left.min(1000);
        let now = now_ms();
        let batch = (0..n).map(|_| NewJob::new(QUEUE, NOOP_KIND, json!({}), now)).collect();
        store.commit(Commit { enqueue: batch, ..Default::default() }, now).await?;
        left -= n;
    }
    let enqueue_per_s = jobs as f64 / t.elapsed().as_secs_f64();

    // 2. Work them off: from workers starting to the last result settled.
    let before = probe::RUN.load(Ordering::SeqCst);
    let t = Instant::now();
    let handles = workers(&engine, nworkers, concurrency);
    while probe::RUN.load(Ordering::SeqCst) - before < jobs as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for h in handles {
        h.shutdown().await;
    }
    let worked_per_s = jobs as f64 / t.elapsed().as_secs_f64();

    // 3. Latency on idle workers: one job per commit, a pause between.
    probe::START_LATENCIES_NS.lock().unwrap().clear();
    let handles = workers(&engine, nworkers, concurrency);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..samples {
        let now = now_ms();
        let job = NewJob::new(QUEUE, NOOP_KIND, json!({"enqueued_ns": probe::now_ns()}), now);
        store.commit(Commit { enqueue: vec![job], ..Default::default() }, now).await?;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while probe::START_LATENCIES_NS.lock().unwrap().len() < samples && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for h in handles {
        h.shutdown().await;
    }
    let mut lat = probe::START_LATENCIES_NS.lock().unwrap().clone();
    lat.sort_unstable();
    let (p50, p99) = (percentile(&lat, 0.50), percentile(&lat, 0.99));
    let pruned = store.prune(Some(QUEUE), now_ms() + 1).await?;
    tracing::debug!(pruned, "bench jobs removed");

    if json {
        println!(
            "{}",
            json!({"bench": "queue", "backend": backend, "jobs": jobs, "workers": nworkers, "concurrency": concurrency,
                   "enqueue_per_s": enqueue_per_s.round(), "worked_per_s": worked_per_s.round(),
                   "latency_samples": lat.len(), "latency_p50_ms": p50, "latency_p99_ms": p99})
        );
    } else {
        println!("bindery bench queue: {backend}, {jobs} no-op jobs, {nworkers} worker(s) x {concurrency}");
        println!("  enqueue          {:>10.0} jobs/s", enqueue_per_s);
        println!("  worked           {:>10.0} jobs/s", worked_per_s);
        println!("  enqueue->start   p50 {p50:.2} ms   p99 {p99:.2} ms   ({} samples, idle workers)", lat.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn events(s: &Settings, events: usize, json: bool) -> Result<ExitCode> {
    let (engine, _dir) = scratch(s).await?;
    let store = engine.store().clone();
    let backend = store.backend();
    let run = format!("bench-{}-{}", std::process::id(), now_ms());
    let ev = |i: usize| {
        NewEvent::new("bench.event", json!({"i": i, "text": "a payload of a typical size for a stage event"}))
    };
    let append = |stream: String, expected, events| Commit {
        appends: vec![Append { stream, expected, events }],
        ..Default::default()
    };

    // Single-event transactions, one writer.
    let single = events.min(5_000);
    let t = Instant::now();
    for i in 0..single {
        store.commit(append(format!("{run}-s{}", i % 100), Expected::Any, vec![ev(i)]), now_ms()).await?;
    }
    let single_per_s = single as f64 / t.elapsed().as_secs_f64();

    // Single-event transactions, four concurrent writers.
    let t = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            let run = run.clone();
            tokio::spawn(async move {
                for i in 0..single / 4 {
                    let c = Commit {
                        appends: vec![Append {
                            stream: format!("{run}-c{w}-{}", i % 25),
                            expected: Expected::Any,
                            events: vec![NewEvent::new("bench.event", json!({"i": i}))],
                        }],
                        ..Default::default()
                    };
                    store.commit(c, now_ms()).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let concurrent_per_s = (single / 4 * 4) as f64 / t.elapsed().as_secs_f64();

    // Batches of 100 events per transaction, with version checks.
    let t = Instant::now();
    let mut written = 0;
    let mut stream = 0;
    while written < events {
        let n = (events - written).min(100);
        store
            .commit(append(format!("{run}-b{stream}"), Expected::NoStream, (0..n).map(ev).collect()), now_ms())
            .await?;
        written += n;
        stream += 1;
    }
    let batched_per_s = events as f64 / t.elapsed().as_secs_f64();

    // Read the whole log in pages of 1,000.
    let t = Instant::now();
    let mut after = 0;
    let mut read = 0usize;
    loop {
        let page = store.read_all(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.sequence;
        read += page.len();
    }
    let read_per_s = read as f64 / t.elapsed().as_secs_f64();

    if json {
        println!(
            "{}",
            json!({"bench": "events", "backend": backend, "events": events,
                   "append_single_per_s": single_per_s.round(), "append_concurrent4_per_s": concurrent_per_s.round(),
                   "append_batch100_per_s": batched_per_s.round(), "read_per_s": read_per_s.round(), "read_events": read})
        );
    } else {
        println!("bindery bench events: {backend}");
        println!("  append, 1 event/commit, 1 writer    {:>10.0} events/s  ({single} events)", single_per_s);
        println!("  append, 1 event/commit, 4 writers   {:>10.0} events/s", concurrent_per_s);
        println!("  append, 100 events/commit           {:>10.0} events/s  ({events} events)", batched_per_s);
        println!("  read_all, pages of 1000             {:>10.0} events/s  ({read} events)", read_per_s);
    }
    Ok(ExitCode::SUCCESS)
}
