//! Delivery: claim due deliveries, post them, record each attempt.
//!
//! Up to `concurrency` deliveries are in flight at once, each in its own task holding a permit, so one slow
//! endpoint occupies one slot rather than the loop. Claims are leased ([`DispatcherOptions::delivery_lease`]): if
//! this process dies, its deliveries become due again when the lease ends, and a report that arrives after that is
//! refused by the store, so the delivery is recorded once. Sinks (and their HTTP clients, with their connection
//! pools) are kept per endpoint and rebuilt when its URL or secret changes.

use super::{DispatcherOptions, Shared};
use crate::Engine;
use bindery_core::event::CloudEvent;
use bindery_core::time::now_ms;
use bindery_outbox::{WebhookOptions, WebhookSink};
use bindery_store::{AttemptReport, ClaimedDelivery, NextStep, Store};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Endpoints whose sink is kept; the cache is emptied when it grows past this.
const SINK_CACHE: usize = 1_000;

/// The longest `Retry-After` honoured, so that a receiver cannot park its deliveries for ever.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Sinks by endpoint id, with the URL and secret they were built for.
type Sinks = Mutex<HashMap<String, (String, String, Arc<WebhookSink>)>>;

pub(super) async fn run(engine: Engine, opts: DispatcherOptions, shared: Arc<Shared>, stop: CancellationToken) {
    let store = engine.store().clone();
    let permits = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let sinks: Arc<Sinks> = Arc::default();
    let opts = Arc::new(opts);
    let mut tasks = JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let free = permits.available_permits().min(opts.claim_batch.max(1));
        if free == 0 {
            tokio::select! { _ = tasks.join_next() => {}, _ = stop.cancelled() => break }
            continue;
        }
        let now = now_ms();
        let lease_until = now + opts.delivery_lease.max(opts.webhook.timeout * 2).as_millis() as i64;
        let claimed = match store.claim_deliveries(free, lease_until, now).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "claiming webhook deliveries failed; trying again");
                Vec::new()
            }
        };
        let got = claimed.len();
        shared.idle.store(got == 0 && shared.in_flight.load(Ordering::SeqCst) == 0, Ordering::SeqCst);
        for claim in claimed {
            let permit = permits.clone().acquire_owned().await.expect("the semaphore is never closed");
            shared.in_flight.fetch_add(1, Ordering::SeqCst);
            let (store, sinks, opts, shared) = (store.clone(), sinks.clone(), opts.clone(), shared.clone());
            tasks.spawn(async move {
                deliver(store.as_ref(), &sinks, &opts, claim).await;
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                drop(permit);
            });
        }
        if got < free {
            // Nothing more is due: wait for the fan-out, a finished delivery (its retry may be due soon), or the
            // poll interval, which also picks up other processes' work and backoffs that ran out.
            tokio::select! {
                _ = shared.enqueued.notified() => {}
                _ = tokio::time::sleep(opts.poll) => {}
                _ = stop.cancelled() => break,
            }
        }
    }
    // Deliveries in flight finish and record their attempt.
    while tasks.join_next().await.is_some() {}
}

/// Posts one claimed delivery and records the attempt.
async fn deliver(store: &dyn Store, sinks: &Sinks, opts: &DispatcherOptions, claim: ClaimedDelivery) {
    let d = &claim.delivery;
    let started = now_ms();
    let outcome = match serde_json::from_value::<CloudEvent>(d.payload.clone()) {
        Ok(event) => match sink_for(sinks, &claim, &opts.webhook) {
            Ok(sink) => post(&sink, &event).await,
            Err(error) => Attempt::refused(error),
        },
        Err(e) => Attempt::refused(format!("the stored event is not a CloudEvent: {e}")),
    };
    let attempt = d.attempts + 1;
    let next = if outcome.ok {
        NextStep::Delivered
    } else if outcome.retryable && attempt < opts.max_attempts {
        let backoff = opts.retry.delay(attempt, &mut rand::thread_rng());
        let delay = outcome.retry_after.map_or(backoff, |asked| asked.min(MAX_RETRY_AFTER));
        NextStep::Retry(now_ms() + delay.as_millis() as i64)
    } else {
        NextStep::Failed
    };
    let report = AttemptReport {
        delivery: d.id,
        lease_until: claim.lease_until,
        time_ms: started,
        status_code: outcome.status,
        error: outcome.error.clone(),
        duration_ms: outcome.duration_ms,
        next,
        disable_after: Some(opts.disable_after),
    };
    let label = match next {
        NextStep::Delivered => "delivered",
        NextStep::Retry(_) => "retry",
        NextStep::Failed => "failed",
    };
    metrics::counter!("bindery_webhook_attempts_total", "outcome" => label).increment(1);
    metrics::histogram!("bindery_webhook_attempt_duration_seconds").record(outcome.duration_ms as f64 / 1000.0);
    match store.record_attempt(&report, now_ms()).await {
        Ok(r) if !r.recorded => {
            tracing::warn!(delivery = d.id, event = %d.event_id, "webhook claim expired before the attempt was recorded; it will be delivered again");
        }
        Ok(r) => {
            if !outcome.ok {
                tracing::info!(delivery = d.id, event = %d.event_id, endpoint = %d.endpoint, attempt = r.attempt,
                    outcome = label, error = outcome.error.as_deref().unwrap_or(""), "webhook attempt failed");
            }
            if r.disabled {
                metrics::counter!("bindery_webhook_endpoints_disabled_total").increment(1);
                tracing::warn!(endpoint = %d.endpoint, "webhook endpoint disabled after {} failed attempts in a row",
                    opts.disable_after);
            }
        }
        Err(e) => {
            tracing::warn!(delivery = d.id, error = %e, "recording a webhook attempt failed; it will be delivered again");
        }
    }
}

/// The kept sink of the claim's endpoint, or a new one when there is none or its URL or secret changed.
fn sink_for(sinks: &Sinks, claim: &ClaimedDelivery, options: &WebhookOptions) -> Result<Arc<WebhookSink>, String> {
    let mut sinks = sinks.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((url, secret, sink)) = sinks.get(&claim.delivery.endpoint) {
        if *url == claim.url && *secret == claim.secret {
            return Ok(sink.clone());
        }
    }
    let sink = Arc::new(build(&claim.url, &claim.secret, options)?);
    if sinks.len() >= SINK_CACHE {
        sinks.clear();
    }
    sinks.insert(claim.delivery.endpoint.clone(), (claim.url.clone(), claim.secret.clone(), sink.clone()));
    Ok(sink)
}

fn build(url: &str, secret: &str, options: &WebhookOptions) -> Result<WebhookSink, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("invalid webhook URL: {e}"))?;
    WebhookSink::with_options(parsed, secret, options.clone()).map_err(|e| e.to_string())
}

/// One attempt's result, in the terms of the delivery log.
pub(super) struct Attempt {
    pub ok: bool,
    pub retryable: bool,
    pub status: Option<i32>,
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
    pub duration_ms: i64,
}

impl Attempt {
    /// A delivery that cannot be made at all (an address the allowlist refuses, a broken row): permanent.
    fn refused(error: String) -> Self {
        Attempt { ok: false, retryable: false, status: None, error: Some(error), retry_after: None, duration_ms: 0 }
    }
}

async fn post(sink: &WebhookSink, event: &CloudEvent) -> Attempt {
    let started = Instant::now();
    let result = sink.post(event).await;
    let duration_ms = started.elapsed().as_millis() as i64;
    match result {
        Ok(status) => Attempt {
            ok: true,
            retryable: false,
            status: Some(status.into()),
            error: None,
            retry_after: None,
            duration_ms,
        },
        Err(e) => Attempt {
            ok: false,
            retryable: e.retryable,
            status: e.status.map(i32::from),
            error: Some(e.message),
            retry_after: e.retry_after,
            duration_ms,
        },
    }
}

/// Builds a sink and makes one attempt (the API's test delivery).
pub(super) async fn attempt(url: &str, secret: &str, event: &CloudEvent, options: &WebhookOptions) -> Attempt {
    match build(url, secret, options) {
        Ok(sink) => post(&sink, event).await,
        Err(error) => Attempt::refused(error),
    }
}
