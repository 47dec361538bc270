//! The outbox: delivers every event, at least once and in log order, to
//! each configured sink.
//!
//! Bindery's outbox is the event log itself: an event is committed in the
//! same transaction as the change it records, so there is nothing else to
//! write. Each sink has a cursor (the last sequence it acknowledged) and a
//! lease, so exactly one process delivers to it at a time however many
//! workers run. Following the log in sequence order gives per-document
//! order for free, and the log never skips a late commit (see the store).
//! A failed delivery is retried with backoff, honouring `Retry-After`, and
//! never skipped: the sink waits rather than lose an event. Receivers
//! deduplicate on the CloudEvents `id`.

use crate::Engine;
use bindery_core::retry::RetryPolicy;
use bindery_core::time::now_ms;
use bindery_outbox::Sink;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug)]
pub struct OutboxOptions {
    /// This process's name in sink leases.
    pub holder: String,
    /// How long a sink's lease lasts without renewal.
    pub lease: Duration,
    pub poll: Duration,
    pub retry: RetryPolicy,
    /// Events read per page.
    pub page: i64,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        Self {
            holder: crate::worker::default_worker_id(),
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            retry: RetryPolicy { base: Duration::from_millis(500), max: Duration::from_secs(300), jitter: 0.25 },
            page: 200,
        }
    }
}

pub struct Outbox {
    engine: Engine,
    sinks: Vec<Arc<dyn Sink>>,
    opts: OutboxOptions,
}

pub struct OutboxHandle {
    engine: Engine,
    cursors: Vec<String>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl OutboxHandle {
    /// Waits until every sink has delivered the log as it stands now, or
    /// until `limit`; returns whether all caught up. Used before a worker
    /// that ran out of work exits, so its last events are not left behind.
    pub async fn drain(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        let Ok(head) = self.engine.store().head().await else { return false };
        loop {
            let mut behind = false;
            for name in &self.cursors {
                behind |= self.engine.store().cursor(name).await.map(|c| c < head).unwrap_or(true);
            }
            if !behind {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn shutdown(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The cursor and lease name of a sink.
pub fn cursor_name(sink: &dyn Sink) -> String {
    format!("outbox:{}", sink.name())
}

impl Outbox {
    pub fn new(engine: Engine, sinks: Vec<Arc<dyn Sink>>, opts: OutboxOptions) -> Self {
        Self { engine, sinks, opts }
    }

    pub fn run(self) -> OutboxHandle {
        let stop = CancellationToken::new();
        let cursors = self.sinks.iter().map(|s| cursor_name(s.as_ref())).collect();
        let tasks = self
            .sinks
            .into_iter()
            .map(|sink| tokio::spawn(deliver_loop(self.engine.clone(), sink, self.opts.clone(), stop.clone())))
            .collect();
        OutboxHandle { engine: self.engine, cursors, stop, tasks }
    }
}

async fn deliver_loop(engine: Engine, sink: Arc<dyn Sink>, opts: OutboxOptions, stop: CancellationToken) {
    let store = engine.store().clone();
    let name = cursor_name(sink.as_ref());
    let lease_ms = opts.lease.as_millis() as i64;
    let sleep = |d: Duration| {
        let stop = stop.clone();
        async move {
            tokio::select! { _ = tokio::time::sleep(d) => true, _ = stop.cancelled() => false }
        }
    };
    'outer: loop {
        let renewed = Instant::now();
        let notify = store.events_notify();
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (cursor, page) = match next_page(store.as_ref(), &name, &opts).await {
            Ok(Some(next)) => next,
            Ok(None) => {
                // Another process holds this sink's lease.
                if !sleep(opts.lease / 3).await {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(sink = sink.name(), error = %e, "outbox cannot read its position or the log");
                if !sleep(opts.poll).await {
                    return;
                }
                continue;
            }
        };
        if page.is_empty() {
            let wait = opts.poll.min(opts.lease / 3);
            tokio::select! { _ = &mut notified => {}, _ = tokio::time::sleep(wait) => {}, _ = stop.cancelled() => return }
            continue;
        }
        let mut delivered = cursor;
        for ev in &page {
            let ce = ev.to_cloud_event();
            let mut attempt = 0;
            loop {
                match sink.deliver(&ce).await {
                    Ok(()) => {
                        metrics::counter!("bindery_outbox_delivered_total", "sink" => sink.name().to_owned())
                            .increment(1);
                        break;
                    }
                    Err(e) => {
                        attempt += 1;
                        metrics::counter!("bindery_outbox_failures_total", "sink" => sink.name().to_owned())
                            .increment(1);
                        let delay = e.retry_after.unwrap_or_else(|| opts.retry.delay(attempt, &mut rand::thread_rng()));
                        tracing::warn!(sink = sink.name(), event = %ce.id, sequence = ce.sequence, attempt,
                            retryable = e.retryable, error = %e.message, "delivery failed; retrying in {delay:?}");
                        // Keep what was delivered so far before waiting.
                        if delivered > cursor {
                            let _ = store.set_cursor(&name, delivered, now_ms()).await;
                        }
                        if !sleep(delay).await {
                            return;
                        }
                        let now = now_ms();
                        if !matches!(store.acquire_lease(&name, &opts.holder, now + lease_ms, now).await, Ok(true)) {
                            continue 'outer;
                        }
                    }
                }
            }
            delivered = ev.sequence;
            if renewed.elapsed() > opts.lease / 3 {
                break;
            }
        }
        if let Err(e) = store.set_cursor(&name, delivered, now_ms()).await {
            tracing::warn!(sink = sink.name(), error = %e, "saving outbox cursor failed; events will be delivered again");
        }
        if let Ok(head) = store.head().await {
            metrics::gauge!("bindery_outbox_lag_events", "sink" => sink.name().to_owned())
                .set((head - delivered) as f64);
        }
    }
}

/// Takes (or renews) the sink's lease and reads the next page after its
/// cursor; `None` while another process holds the lease.
async fn next_page(
    store: &dyn bindery_store::Store,
    name: &str,
    opts: &OutboxOptions,
) -> Result<Option<(i64, Vec<bindery_core::event::StoredEvent>)>, bindery_store::StoreError> {
    let now = now_ms();
    if !store.acquire_lease(name, &opts.holder, now + opts.lease.as_millis() as i64, now).await? {
        return Ok(None);
    }
    let cursor = store.cursor(name).await?;
    Ok(Some((cursor, store.read_all(cursor, opts.page).await?)))
}
