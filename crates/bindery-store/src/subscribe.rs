//! Subscriptions: catch up on the log, then follow it live.
//!
//! A subscriber reads pages after its last sequence until it is caught up,
//! then waits for the store's "events appended" notification (in-process, or
//! PostgreSQL `LISTEN`) with a polling interval as the fallback for writers
//! in other processes that cannot reach it, such as SQLite's.

use crate::{EventLog, Result};
use bindery_core::event::StoredEvent;
use futures::Stream;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

const PAGE: i64 = 500;

/// Every event with sequence > `after`, in order, forever.
pub fn subscribe<S: EventLog + ?Sized + 'static>(
    log: Arc<S>,
    after: i64,
    poll: Duration,
) -> impl Stream<Item = Result<StoredEvent>> + Send {
    let state = (log, after, VecDeque::<StoredEvent>::new());
    futures::stream::unfold(state, move |(log, mut after, mut buf)| async move {
        loop {
            if let Some(ev) = buf.pop_front() {
                after = ev.sequence;
                return Some((Ok(ev), (log, after, buf)));
            }
            let notify = log.events_notify();
            let notified = notify.notified();
            tokio::pin!(notified);
            // Register before reading, so an append between the read and the
            // wait still wakes us.
            notified.as_mut().enable();
            match log.read_all(after, PAGE).await {
                Ok(page) if !page.is_empty() => buf.extend(page),
                Ok(_) => {
                    let _ = tokio::time::timeout(poll, notified).await;
                }
                Err(e) => return Some((Err(e), (log, after, buf))),
            }
        }
    })
}
