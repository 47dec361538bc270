//! Fan-out: from the event log to one delivery per matching endpoint.
//!
//! Shaped like the outbox's delivery loop: one process at a time holds the lease on [`FANOUT_CURSOR`], reads a
//! page after the cursor, enqueues the page's deliveries in one store call and only then moves the cursor, so a
//! crash in between means the page is fanned out again, which the store's (endpoint, event) uniqueness absorbs.
//! A store error never skips an event: the loop waits and reads the same page again.
//!
//! An event's project is its document's: the stream of every document event is the document id, and the
//! document's projection carries `project` (`None` for the CLI's local documents, which have no endpoints). A
//! document's project never changes, so lookups are cached. Endpoints are read once per project per page, so a
//! new, changed or disabled endpoint takes effect from the next page. An endpoint receives only events that
//! happened after it was created, even when the fan-out is behind.

use super::{DispatcherOptions, Shared, FANOUT_CURSOR};
use crate::Engine;
use bindery_core::event::StoredEvent;
use bindery_core::time::now_ms;
use bindery_store::{NewDelivery, Store, StoreError, WebhookEndpoint};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Documents whose project is remembered; the cache is emptied when it grows past this.
const PROJECT_CACHE: usize = 10_000;

pub(super) async fn run(engine: Engine, opts: DispatcherOptions, shared: Arc<Shared>, stop: CancellationToken) {
    let store = engine.store().clone();
    let mut projects: HashMap<String, Option<String>> = HashMap::new();
    let sleep = |d: Duration| {
        let stop = stop.clone();
        async move {
            tokio::select! { _ = tokio::time::sleep(d) => true, _ = stop.cancelled() => false }
        }
    };
    loop {
        if stop.is_cancelled() {
            break;
        }
        let notify = store.events_notify();
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let started = Instant::now();
        match fan_out_page(store.as_ref(), &opts, &mut projects).await {
            Ok(Step::NotHolder) => {
                shared.fanning_out.store(false, Ordering::SeqCst);
                if !sleep(opts.lease / 3).await {
                    break;
                }
            }
            Ok(Step::CaughtUp) => {
                shared.fanning_out.store(true, Ordering::SeqCst);
                let wait = opts.poll.min(opts.lease / 3);
                tokio::select! { _ = &mut notified => {}, _ = tokio::time::sleep(wait) => {}, _ = stop.cancelled() => break }
            }
            Ok(Step::Page { enqueued, lag }) => {
                shared.fanning_out.store(true, Ordering::SeqCst);
                if enqueued > 0 {
                    shared.enqueued.notify_one();
                }
                metrics::gauge!("bindery_webhook_fanout_lag_events").set(lag as f64);
                tracing::debug!(enqueued, elapsed = ?started.elapsed(), "webhook fan-out page");
            }
            Err(e) => {
                tracing::warn!(error = %e, "webhook fan-out cannot read the log or enqueue; trying again");
                if !sleep(opts.poll).await {
                    break;
                }
            }
        }
    }
    if shared.fanning_out.load(Ordering::SeqCst) {
        // A lease that ends now (it is ours, so renewing it with a past end is allowed) lets another process take
        // over at once instead of after the lease runs out.
        let now = now_ms();
        if let Err(e) = store.acquire_lease(FANOUT_CURSOR, &opts.holder, now - 1, now).await {
            tracing::debug!(error = %e, "giving up the webhook fan-out lease failed; it runs out by itself");
        }
    }
}

enum Step {
    NotHolder,
    CaughtUp,
    Page { enqueued: u64, lag: i64 },
}

async fn fan_out_page(
    store: &dyn Store,
    opts: &DispatcherOptions,
    projects: &mut HashMap<String, Option<String>>,
) -> Result<Step, StoreError> {
    let now = now_ms();
    if !store.acquire_lease(FANOUT_CURSOR, &opts.holder, now + opts.lease.as_millis() as i64, now).await? {
        return Ok(Step::NotHolder);
    }
    let cursor = store.cursor(FANOUT_CURSOR).await?;
    let page = store.read_all(cursor, opts.fanout_page).await?;
    let Some(last) = page.last().map(|e| e.sequence) else { return Ok(Step::CaughtUp) };
    let deliveries = plan(store, &page, projects).await?;
    let enqueued = store.enqueue_deliveries(&deliveries, now_ms()).await?;
    store.set_cursor(FANOUT_CURSOR, last, now_ms()).await?;
    metrics::counter!("bindery_webhook_fanout_events_total").increment(page.len() as u64);
    metrics::counter!("bindery_webhook_enqueued_total").increment(enqueued);
    let lag = store.head().await.map(|h| h - last).unwrap_or(0);
    Ok(Step::Page { enqueued, lag })
}

/// The deliveries a page of events makes.
async fn plan(
    store: &dyn Store,
    page: &[StoredEvent],
    projects: &mut HashMap<String, Option<String>>,
) -> Result<Vec<NewDelivery>, StoreError> {
    let mut endpoints: HashMap<String, Vec<WebhookEndpoint>> = HashMap::new();
    let mut out = Vec::new();
    for ev in page {
        let Some(project) = project_of(store, &ev.stream, projects).await? else { continue };
        if !endpoints.contains_key(&project) {
            let enabled = store.webhooks(&project).await?.into_iter().filter(|e| e.enabled).collect();
            endpoints.insert(project.clone(), enabled);
        }
        let matching = endpoints[&project].iter().filter(|e| e.created_ms <= ev.time_ms && e.accepts(&ev.ty));
        let mut payload = None;
        for endpoint in matching {
            let payload = payload.get_or_insert_with(|| {
                serde_json::to_value(ev.to_cloud_event()).expect("CloudEvents serialise to JSON")
            });
            out.push(NewDelivery {
                endpoint: endpoint.id.clone(),
                event_id: ev.id.clone(),
                event_type: ev.ty.clone(),
                payload: payload.clone(),
                next_attempt_ms: ev.time_ms,
            });
        }
    }
    Ok(out)
}

async fn project_of(
    store: &dyn Store,
    stream: &str,
    cache: &mut HashMap<String, Option<String>>,
) -> Result<Option<String>, StoreError> {
    if let Some(p) = cache.get(stream) {
        return Ok(p.clone());
    }
    let project = store.document(stream).await?.and_then(|d| d.project);
    if cache.len() >= PROJECT_CACHE {
        cache.clear();
    }
    cache.insert(stream.to_owned(), project.clone());
    Ok(project)
}
