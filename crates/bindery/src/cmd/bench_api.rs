//! `bindery bench sse`: live-progress fan-out, measured from the outside.
//!
//! It plays a crowd of browsers against a running `bindery serve`: N clients follow one project's progress stream
//! while books are uploaded into it, and every client must see every event. The same workload runs first with one
//! client, which is the baseline printed beside it: the difference is what the crowd costs, in time to see every
//! book ready, in how far apart the first and the last client receive the same event, and in the server's CPU time
//! (read from `/proc/<pid>/stat` when `--server-pid` is given).

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Per event id: when the first and the last client received it, and how many did.
type Seen = Arc<Mutex<HashMap<String, (Instant, Instant, usize)>>>;

/// What one round measured.
struct Round {
    clients: usize,
    /// Events each client received (all clients must agree).
    events: usize,
    /// From the first upload until the last client saw the last book ready.
    all_ready: Duration,
    /// Per event: last client's receive time minus the first client's.
    spread_ms: Vec<f64>,
    server_cpu: Option<Duration>,
}

pub struct SseArgs<'a> {
    pub url: &'a str,
    pub token: &'a str,
    pub project: &'a str,
    pub file: &'a Path,
    pub clients: usize,
    pub books: usize,
    pub server_pid: Option<u32>,
}

pub async fn sse(a: SseArgs<'_>, json_out: bool) -> Result<ExitCode> {
    let bytes = std::fs::read(a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let name = a.file.file_name().and_then(|n| n.to_str()).unwrap_or("book.pdf").to_owned();
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let base = Workload { a: &a, http: &http, bytes: &bytes, name: &name };
    let one = base.run(1, "baseline").await?;
    let many = base.run(a.clients, "crowd").await?;
    report(&[one, many], json_out);
    Ok(ExitCode::SUCCESS)
}

/// The uploads of one round, replayed with a different number of clients.
struct Workload<'a> {
    a: &'a SseArgs<'a>,
    http: &'a reqwest::Client,
    bytes: &'a [u8],
    name: &'a str,
}

impl Workload<'_> {
    async fn run(&self, clients: usize, tag: &str) -> Result<Round> {
        let a = self.a;
        let stream = format!("{}/api/v1/projects/{}/progress/stream", a.url, a.project);
        let seen: Seen = Arc::default();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let r = self.http.get(&stream).bearer_auth(a.token).send().await?;
            if !r.status().is_success() {
                bail!("progress stream: {}", r.status());
            }
            tasks.push(tokio::spawn(follow(r, a.books, seen.clone())));
        }
        let cpu0 = a.server_pid.and_then(cpu_time);
        let started = Instant::now();
        for i in 0..a.books {
            let mut body = self.bytes.to_vec();
            body.extend_from_slice(format!("\n% bench {tag} {i} {}\n", bindery_core::time::now_ms()).as_bytes());
            let r = self
                .http
                .post(format!("{}/api/v1/projects/{}/documents?filename={}", a.url, a.project, self.name))
                .bearer_auth(a.token)
                .body(body)
                .send()
                .await?;
            if !r.status().is_success() {
                bail!("upload: {} {}", r.status(), r.text().await.unwrap_or_default());
            }
        }
        let mut counts = Vec::new();
        for t in tasks {
            counts.push(tokio::time::timeout(Duration::from_secs(600), t).await.context("clients timed out")???);
        }
        let all_ready = started.elapsed();
        let server_cpu = match (cpu0, a.server_pid.and_then(cpu_time)) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        let seen = seen.lock().unwrap();
        let events = counts[0];
        if counts.iter().any(|&c| c != events) || seen.values().any(|&(_, _, n)| n != clients) {
            bail!("clients disagree: {counts:?}");
        }
        let mut spread_ms: Vec<f64> = seen.values().map(|(f, l, _)| (*l - *f).as_secs_f64() * 1e3).collect();
        spread_ms.sort_by(f64::total_cmp);
        Ok(Round { clients, events, all_ready, spread_ms, server_cpu })
    }
}

/// Reads one client's stream until `books` documents are ready; returns how many messages it got.
async fn follow(r: reqwest::Response, books: usize, seen: Seen) -> Result<usize> {
    let mut body = r.bytes_stream();
    let (mut buf, mut messages, mut ready) = (String::new(), 0, 0);
    while let Some(chunk) = body.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk?));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let id = block.lines().find_map(|l| l.strip_prefix("id:")).map(|v| v.trim().to_owned());
            let data = block.lines().find_map(|l| l.strip_prefix("data:"));
            let (Some(id), Some(data)) = (id, data) else { continue };
            let now = Instant::now();
            seen.lock().unwrap().entry(id).and_modify(|e| (e.1, e.2) = (now, e.2 + 1)).or_insert((now, now, 1));
            messages += 1;
            let v: Value = serde_json::from_str(data.trim())?;
            if v["event"] == "document.ready" || v["event"] == "document.failed" {
                ready += 1;
                if ready == books {
                    return Ok(messages);
                }
            }
        }
    }
    bail!("the stream ended after {messages} messages")
}

/// The process's user + system CPU time, from `/proc/<pid>/stat` (in clock ticks of 1/100 s on Linux).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(rounds: &[Round], json_out: bool) {
    if json_out {
        let rows: Vec<Value> = rounds
            .iter()
            .map(|r| {
                serde_json::json!({
                    "clients": r.clients, "events_per_client": r.events,
                    "all_ready_s": r.all_ready.as_secs_f64(),
                    "spread_ms_p50": pct(&r.spread_ms, 0.5), "spread_ms_p99": pct(&r.spread_ms, 0.99),
                    "spread_ms_max": pct(&r.spread_ms, 1.0),
                    "server_cpu_s": r.server_cpu.map(|d| d.as_secs_f64()),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows).unwrap_or_default());
        return;
    }
    println!("| clients | events each | messages sent | all books ready | spread p50 / p99 / max | server CPU |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for r in rounds {
        println!(
            "| {} | {} | {} | {:.2} s | {:.1} / {:.1} / {:.1} ms | {} |",
            r.clients,
            r.events,
            r.clients * r.events,
            r.all_ready.as_secs_f64(),
            pct(&r.spread_ms, 0.5),
            pct(&r.spread_ms, 0.99),
            pct(&r.spread_ms, 1.0),
            r.server_cpu.map(|d| format!("{:.2} s", d.as_secs_f64())).unwrap_or_else(|| "—".into()),
        );
    }
}
