//! Webhook endpoints per project: the [`Dispatcher`] fans events out to the endpoints their project registered and
//! delivers them, signed per Standard Webhooks, with retries and a delivery log.
//!
//! The per-instance outbox ([`crate::outbox`]) delivers the whole log to sinks the operator configured; this service
//! delivers each project's events to the URLs its owners registered through the API, which is what a customer of
//! the service expects (think Svix or Stripe). It runs in two loops:
//!
//! - *fan-out* follows the event log with the cursor `webhooks:fanout` under a lease (exactly one process fans out,
//!   as with outbox sinks), finds each event's project through its document's projection, and enqueues one
//!   delivery per enabled, matching endpoint, a page of events per store call. Deliveries are unique per
//!   (endpoint, event), so a page fanned out twice after a crash enqueues nothing new.
//! - *delivery* claims due deliveries under a lease (any number of processes share this work), posts each with
//!   [`WebhookSink`] (so the SSRF rules, the signature and `webhook-id` = event id live in one place), and records
//!   the attempt. A retryable failure is tried again with backoff, honouring `Retry-After`; a permanent one (a 4xx
//!   other than 408/429, a refused address) or the last attempt fails the delivery. Failed attempts in a row count
//!   against the endpoint, which is disabled at `disable_after`; its pending deliveries then wait for an owner to
//!   re-enable it. A process killed mid-delivery leaves a claim whose lease runs out, and the delivery is due again.
//!
//! Delivery is at least once, in no particular order across events: receivers deduplicate on `webhook-id` and
//! order by the CloudEvent's `sequence` when they care.

mod deliver;
mod fanout;

use crate::{Engine, EngineError};
use bindery_core::event::{CloudEvent, SOURCE};
use bindery_core::retry::RetryPolicy;
use bindery_core::time::{now_ms, rfc3339};
use bindery_outbox::WebhookOptions;
use bindery_store::{AttemptReport, NewDelivery, NextStep, WebhookEndpoint};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The cursor (and lease) name of the fan-out.
pub const FANOUT_CURSOR: &str = "webhooks:fanout";

/// The type of the synthetic event the API's test delivery sends.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

#[derive(Clone, Debug)]
pub struct DispatcherOptions {
    /// This process's name in the fan-out lease.
    pub holder: String,
    /// The SSRF allowlist and the per-request timeout.
    pub webhook: WebhookOptions,
    /// Backoff between attempts of one delivery (a `Retry-After` of up to a day replaces it).
    pub retry: RetryPolicy,
    /// Attempts before a delivery fails (8).
    pub max_attempts: i32,
    /// Failed attempts in a row that disable an endpoint (20).
    pub disable_after: i32,
    /// How long the fan-out lease lasts without renewal.
    pub lease: Duration,
    /// How long a claimed delivery stays claimed; longer than `webhook.timeout`, or a slow endpoint would get the
    /// same event twice at once.
    pub delivery_lease: Duration,
    /// Events read per fan-out page.
    pub fanout_page: i64,
    /// Most deliveries claimed by one query.
    pub claim_batch: usize,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Fallback polling interval when no notification arrives.
    pub poll: Duration,
}

impl Default for DispatcherOptions {
    fn default() -> Self {
        Self {
            holder: crate::worker::default_worker_id(),
            webhook: WebhookOptions::default(),
            // 1, 2, 4 … 64 minutes: eight attempts span about two hours.
            retry: RetryPolicy { base: Duration::from_secs(60), max: Duration::from_secs(6 * 3600), jitter: 0.25 },
            max_attempts: 8,
            disable_after: 20,
            lease: Duration::from_secs(30),
            delivery_lease: Duration::from_secs(60),
            fanout_page: 200,
            claim_batch: 32,
            concurrency: 16,
            poll: Duration::from_secs(1),
        }
    }
}

/// Runs the fan-out and the deliveries.
pub struct Dispatcher {
    engine: Engine,
    opts: DispatcherOptions,
}

/// State the two loops and the handle share.
#[derive(Default)]
struct Shared {
    /// Woken when the fan-out enqueued something, so this process delivers at once.
    enqueued: Notify,
    in_flight: AtomicUsize,
    /// Whether the last claim found nothing due.
    idle: AtomicBool,
    /// Whether this process held the fan-out lease at its last look.
    fanning_out: AtomicBool,
}

pub struct DispatcherHandle {
    engine: Engine,
    shared: Arc<Shared>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Dispatcher {
    pub fn new(engine: Engine, opts: DispatcherOptions) -> Self {
        Self { engine, opts }
    }

    pub fn run(self) -> DispatcherHandle {
        let stop = CancellationToken::new();
        let shared = Arc::new(Shared::default());
        let fan = fanout::run(self.engine.clone(), self.opts.clone(), shared.clone(), stop.clone());
        let send = deliver::run(self.engine.clone(), self.opts, shared.clone(), stop.clone());
        let tasks = vec![tokio::spawn(fan), tokio::spawn(send)];
        DispatcherHandle { engine: self.engine, shared, stop, tasks }
    }
}

impl DispatcherHandle {
    /// Waits until the fan-out (when this process holds it) has caught up with the log as it stands now and no
    /// delivery is due or in flight here, or until `limit`; returns whether it got there. Deliveries backing off
    /// are not waited for, nor is another process's fan-out.
    pub async fn drain(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        let Ok(head) = self.engine.store().head().await else { return false };
        loop {
            let caught_up = !self.shared.fanning_out.load(Ordering::SeqCst)
                || self.engine.store().cursor(FANOUT_CURSOR).await.map(|c| c >= head).unwrap_or(false);
            if caught_up {
                // Let the delivery loop look once more after the last page was enqueued.
                self.shared.idle.store(false, Ordering::SeqCst);
                self.shared.enqueued.notify_one();
                tokio::time::sleep(Duration::from_millis(50)).await;
                if self.shared.idle.load(Ordering::SeqCst) && self.shared.in_flight.load(Ordering::SeqCst) == 0 {
                    return true;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops fanning out (giving the fan-out lease up, so another process takes over at once) and claiming, lets
    /// deliveries in flight finish and record their attempt, and returns.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// What a test delivery got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestDelivery {
    /// The delivery's id in the endpoint's log.
    pub delivery: i64,
    pub event_id: String,
    pub delivered: bool,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// Sends a synthetic `webhook.test` event to `endpoint` now, whether it is enabled or not, and records it in the
/// endpoint's delivery log. A test is tried once: it is neither retried nor counted in the failure streak.
pub async fn send_test(
    engine: &Engine,
    endpoint: &WebhookEndpoint,
    options: &WebhookOptions,
) -> Result<TestDelivery, EngineError> {
    let store = engine.store();
    let secret = store
        .webhook_secret(&endpoint.id)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("webhook endpoint {}", endpoint.id)))?;
    let now = now_ms();
    let event = CloudEvent {
        specversion: "1.0".into(),
        id: bindery_core::EventId::new().0,
        source: SOURCE.into(),
        ty: TEST_EVENT_TYPE.into(),
        subject: endpoint.id.clone(),
        time: rfc3339(now),
        datacontenttype: "application/json".into(),
        data: json!({
            "endpoint": endpoint.id,
            "project": endpoint.project,
            "message": "A test delivery from Bindery: your endpoint is reachable and can check signatures.",
        }),
        sequence: 0,
        streamversion: 0,
        correlationid: None,
        causationid: None,
    };
    // The row is created already claimed by this call (due only at the end of a lease), so no dispatcher takes it
    // while the request is in flight; should this process die, a dispatcher delivers it later.
    let lease_until = now + 120_000;
    let row = NewDelivery {
        endpoint: endpoint.id.clone(),
        event_id: event.id.clone(),
        event_type: event.ty.clone(),
        payload: serde_json::to_value(&event).map_err(|e| EngineError::Invalid(e.to_string()))?,
        next_attempt_ms: lease_until,
    };
    store.enqueue_deliveries(std::slice::from_ref(&row), now).await?;
    let delivery = store
        .delivery_for_event(&endpoint.id, &event.id)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("delivery of {}", event.id)))?;
    let attempt = deliver::attempt(&endpoint.url, &secret, &event, options).await;
    let next = if attempt.ok { NextStep::Delivered } else { NextStep::Failed };
    let report = AttemptReport {
        delivery: delivery.id,
        lease_until,
        time_ms: now,
        status_code: attempt.status,
        error: attempt.error.clone(),
        duration_ms: attempt.duration_ms,
        next,
        disable_after: None,
    };
    store.record_attempt(&report, now_ms()).await?;
    Ok(TestDelivery {
        delivery: delivery.id,
        event_id: event.id,
        delivered: attempt.ok,
        status_code: attempt.status,
        error: attempt.error,
        duration_ms: attempt.duration_ms,
    })
}
