//! One tail of the event log per process, shared by every live progress stream.
//!
//! A progress stream used to poll the store itself, on every commit and every second. With a thousand browsers
//! watching, that is a thousand reads of the same events and of the same document states for each commit. The tail
//! reads each page of the log once, reads each document the page touches once, and broadcasts the result to every
//! subscriber through a bounded `tokio::sync::broadcast` channel.
//!
//! Subscribers never miss an event. Each broadcast item says where the tail's reading of the log started (`prev`,
//! the sequence just before it), so a subscriber whose own position is older than that knows there is a gap: the
//! events committed before the tail started, or dropped because the subscriber lagged behind the channel. It then
//! catches up from the store, as it does when it connects, and drops the duplicates by sequence.

use bindery_core::event::StoredEvent;
use bindery_core::DocumentState;
use bindery_store::DynStore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// How often the tail looks for events committed by other processes (commits in this process wake it at once).
pub(crate) const POLL: Duration = Duration::from_secs(1);

/// Events read from the store per page.
const PAGE: i64 = 500;

/// Items the channel keeps for a slow subscriber before it lags (and then catches up from the store).
const CAPACITY: usize = 4096;

/// One event of the log, with the state of its document as read right after the event's page.
#[derive(Debug)]
pub struct TailEvent {
    /// The sequence of the event the tail read just before this one: the tail has broadcast every event in
    /// `(start, prev]`, so a subscriber positioned at `prev` or later has seen everything before this event.
    pub prev: i64,
    pub event: StoredEvent,
    /// `None` for events of a stream without a document (or a document since removed).
    pub doc: Option<Arc<DocumentState>>,
}

/// The per-process tail, started by its first subscriber and stopped with the service.
pub struct LogTail {
    tx: broadcast::Sender<Arc<TailEvent>>,
    started: AtomicBool,
}

impl Default for LogTail {
    fn default() -> Self {
        LogTail { tx: broadcast::channel(CAPACITY).0, started: AtomicBool::new(false) }
    }
}

impl LogTail {
    /// A receiver of every event committed from now on (and perhaps a few earlier ones). Starts the tail on first
    /// use; it runs until `stop` turns true.
    pub fn subscribe(&self, store: &DynStore, stop: &watch::Sender<bool>) -> broadcast::Receiver<Arc<TailEvent>> {
        let rx = self.tx.subscribe();
        if !self.started.swap(true, Ordering::SeqCst) {
            tokio::spawn(run(store.clone(), self.tx.clone(), stop.subscribe()));
        }
        rx
    }
}

async fn run(store: DynStore, tx: broadcast::Sender<Arc<TailEvent>>, mut stop: watch::Receiver<bool>) {
    let mut after = loop {
        match store.head().await {
            Ok(head) => break head,
            Err(e) => {
                tracing::warn!(error = %e, "progress tail cannot read the log's head; retrying");
                if !pause(&mut stop, POLL).await {
                    return;
                }
            }
        }
    };
    loop {
        let notify = store.events_notify();
        let notified = notify.notified();
        tokio::pin!(notified);
        // Registered before reading, so that a commit between the read and the wait still wakes the tail.
        notified.as_mut().enable();
        let page = match store.read_all(after, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "progress tail cannot read the log; retrying");
                if !pause(&mut stop, POLL).await {
                    return;
                }
                continue;
            }
        };
        if page.is_empty() {
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            continue;
        }
        // Each document the page touches is read once, after the page, whatever the number of subscribers.
        let mut docs: HashMap<String, Option<Arc<DocumentState>>> = HashMap::new();
        for e in &page {
            if !docs.contains_key(&e.stream) {
                let doc = store.document(&e.stream).await.ok().flatten().map(Arc::new);
                docs.insert(e.stream.clone(), doc);
            }
        }
        for event in page {
            let doc = docs.get(&event.stream).cloned().flatten();
            let prev = after;
            after = event.sequence;
            // Sending fails only when nobody listens, which is fine: a later subscriber catches up from the store.
            let _ = tx.send(Arc::new(TailEvent { prev, event, doc }));
        }
    }
}

/// Sleeps for `d`; false when the service stops meanwhile.
async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stop.wait_for(|s| *s) => false,
    }
}
