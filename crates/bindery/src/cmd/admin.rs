//! Operator commands: jobs, retry, cancel, replay, limit, queues.

use crate::config::Settings;
use anyhow::Result;
use bindery_core::JobState;
use std::process::ExitCode;

pub async fn jobs(s: &Settings, state: Option<String>, limit: i64, json: bool) -> Result<ExitCode> {
    let state: Option<JobState> = state.map(|s| s.parse()).transpose().map_err(anyhow::Error::msg)?;
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let mut after = 0;
    let mut left = limit;
    if !json {
        println!("{:>8}  {:<10} {:<12} {:<32} {:>7}  error", "id", "state", "queue", "document", "attempt");
    }
    while left > 0 {
        let page = engine.store().jobs(state, after, left.min(500)).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        left -= page.len() as i64;
        for j in page {
            if json {
                println!("{}", serde_json::to_string(&j)?);
            } else {
                let err = j.last_error.as_deref().unwrap_or("");
                println!(
                    "{:>8}  {:<10} {:<12} {:<32} {:>3}/{:<3}  {err}",
                    j.id,
                    j.state.as_str(),
                    j.queue,
                    j.document.as_deref().unwrap_or("-"),
                    j.attempt,
                    j.max_attempts
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn retry(s: &Settings, job: Option<i64>, all_dead: bool) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let report = match job {
        Some(id) if !all_dead => engine.retry_job(id).await?,
        _ => engine.retry_all_dead().await?,
    };
    println!("retried {} job(s); reopened {} document(s)", report.jobs, report.documents.len());
    for d in report.documents {
        println!("  {d}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn cancel(s: &Settings, id: &str) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let r = engine.cancel(id).await?;
    match r.document {
        Some(d) => println!("cancelled document {d} and {} job(s)", r.jobs),
        None => println!("cancelled {} job(s)", r.jobs),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn replay(s: &Settings) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let n = engine.replay().await?;
    println!("rebuilt {n} document projection(s) from the log");
    Ok(ExitCode::SUCCESS)
}

pub async fn limit(s: &Settings, queue: &str, max_running: &str) -> Result<ExitCode> {
    let max = match max_running {
        "none" => None,
        n => {
            Some(n.parse::<i32>().map_err(|_| anyhow::anyhow!("max_running must be a number or \"none\", not {n:?}"))?)
        }
    };
    anyhow::ensure!(max.is_none_or(|m| m >= 0), "max_running must not be negative");
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    engine.store().set_queue_limit(queue, max).await?;
    match max {
        Some(m) => println!("queue {queue}: at most {m} job(s) running at once"),
        None => println!("queue {queue}: no limit"),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn queues(s: &Settings, json: bool) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    for q in engine.store().queue_stats().await? {
        if json {
            println!("{}", serde_json::json!({"queue": q.queue, "state": q.state, "count": q.count}));
        } else {
            println!("{:<16} {:<10} {:>10}", q.queue, q.state, q.count);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn prune(s: &Settings, older_than_days: f64, queue: Option<String>) -> Result<ExitCode> {
    anyhow::ensure!(older_than_days >= 0.0, "--older-than-days must not be negative");
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let cutoff = bindery_core::time::now_ms() - (older_than_days * 86_400_000.0) as i64;
    let n = engine.store().prune(queue.as_deref(), cutoff).await?;
    println!("deleted {n} finished job(s)");
    Ok(ExitCode::SUCCESS)
}
