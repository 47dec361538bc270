//! Progress: a snapshot, and Server-Sent Events streams per document and per project.
//!
//! Every SSE message carries an `id` (the document stream's version, or the log's global sequence for a project), so
//! a client that reconnects with `Last-Event-ID` resumes exactly after the last message it saw; browsers do this on
//! their own. A stream first catches up from the store, then follows the process's one shared tail of the log
//! (`crate::tail`), so a thousand watchers cost one reader; it falls back to the store whenever the tail says it
//! missed something (it started late, or this client lagged behind the channel).
//!
//! A stream outlives the check made when it opened, so it checks again (see [`Guard`]): every
//! `ApiOptions::stream_recheck` and before each read of the store, it asks whether the caller may still read the
//! document or project, and it ends when they may not (a member removed, an API key revoked, a user deleted) and at
//! the moment the caller's access token expires.

use super::documents::authorize;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::extract::Path;
use crate::tail::TailEvent;
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use bindery_core::event::StoredEvent;
use bindery_core::{DocumentState, Progress};
use bindery_store::Role;
use futures::Stream;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;

/// The document's progress: current stage, stages done, percent and an estimate of the time left.
#[utoipa::path(get, path = "/api/v1/documents/{id}/progress", tag = "progress", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ProgressView), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ProgressView>> {
    let doc = authorize(&state, &caller, &id, Role::Viewer).await?;
    Ok(Json(ProgressView::of(&doc, None)))
}

/// One progress message.
#[derive(Serialize, ToSchema)]
pub struct ProgressView {
    pub document: String,
    /// The event that caused this message (`stage.completed`, `document.ready`, …); absent for a snapshot.
    pub event: Option<String>,
    /// The stage the event is about, when it is about one.
    pub stage: Option<String>,
    pub status: String,
    pub current_stage: Option<String>,
    pub done: usize,
    pub total: usize,
    pub percent: f64,
    pub eta_ms: Option<i64>,
}

impl ProgressView {
    fn of(doc: &DocumentState, event: Option<&StoredEvent>) -> Self {
        let p: Progress = doc.progress();
        ProgressView {
            document: doc.id.clone(),
            event: event.map(|e| e.ty.clone()),
            stage: event.and_then(|e| e.data.get("stage")).and_then(|s| s.as_str()).map(str::to_owned),
            status: doc.status.as_str().to_owned(),
            current_stage: p.current_stage,
            done: p.done,
            total: p.total,
            percent: p.percent,
            eta_ms: p.eta_ms,
        }
    }
}

fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
}

/// Checks now and then that the caller of a stream may still read what it shows.
struct Guard {
    caller: Caller,
    /// The project whose documents the stream shows; `None` for a document outside projects (administrators only).
    project: Option<String>,
    every: std::time::Duration,
    next_check: tokio::time::Instant,
    /// When the caller's access token expires; API keys do not.
    expires: Option<tokio::time::Instant>,
}

impl Guard {
    fn new(state: &AppState, caller: Caller, project: Option<String>) -> Self {
        let every = state.options.stream_recheck;
        let expires = caller.expires_ms().map(|ms| {
            let left = (ms - bindery_core::time::now_ms()).max(0) as u64;
            tokio::time::Instant::now() + std::time::Duration::from_millis(left)
        });
        Guard { caller, project, every, next_check: tokio::time::Instant::now() + every, expires }
    }

    /// The next moment something must be checked.
    fn deadline(&self) -> tokio::time::Instant {
        self.expires.map_or(self.next_check, |e| e.min(self.next_check))
    }

    /// Whether the stream may go on; asks the store (through the principal cache) when a check is due or `now` is
    /// set.
    async fn allowed(&mut self, state: &AppState, now: bool) -> bool {
        let at = tokio::time::Instant::now();
        if self.expires.is_some_and(|e| e <= at) {
            return false;
        }
        if !now && at < self.next_check {
            return true;
        }
        self.next_check = at + self.every;
        self.caller.still_allowed(state, self.project.as_deref(), Role::Viewer).await.is_ok()
    }
}

/// What a follower does next after waiting on the shared tail.
enum Next {
    /// A new event, contiguous with what the follower has seen.
    Event(Arc<TailEvent>),
    /// Something may have been missed: read the store again.
    CatchUp,
    /// The service stops, or the tail ended.
    End,
    /// Time to check the caller's access again.
    Check,
}

/// Waits for the next tail event after global position `pos`, or until `check_at`.
async fn next(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<TailEvent>>,
    pos: i64,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    check_at: tokio::time::Instant,
) -> Next {
    loop {
        let item = tokio::select! {
            item = rx.recv() => item,
            _ = stop.wait_for(|s| *s) => return Next::End,
            _ = tokio::time::sleep_until(check_at) => return Next::Check,
        };
        return match item {
            Ok(t) if t.event.sequence <= pos => continue,
            Ok(t) if t.prev > pos => Next::CatchUp,
            Ok(t) => Next::Event(t),
            Err(RecvError::Lagged(_)) => Next::CatchUp,
            Err(RecvError::Closed) => Next::End,
        };
    }
}

fn message(doc: &DocumentState, e: &StoredEvent, id: i64) -> Event {
    let data = serde_json::to_string(&ProgressView::of(doc, Some(e))).unwrap_or_default();
    Event::default().event("progress").id(id.to_string()).data(data)
}

/// Live progress of one document as Server-Sent Events (`event: progress`, JSON data, `id` = stream version). The
/// stream ends after the document reaches `ready`, `failed` or `cancelled`.
#[utoipa::path(get, path = "/api/v1/documents/{id}/progress/stream", tag = "progress", security(("bearer" = [])),
    params(("id" = String, Path), ("Last-Event-ID" = Option<i64>, Header)),
    responses((status = 200, content_type = "text/event-stream", body = ProgressView)))]
pub async fn document_stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let doc = authorize(&state, &caller, &id, Role::Viewer).await?;
    struct Follow {
        state: AppState,
        guard: Guard,
        id: String,
        /// The last stream version sent.
        after: i64,
        /// The global sequence up to which this stream's events have been read from the store or the tail.
        pos: i64,
        rx: tokio::sync::broadcast::Receiver<Arc<TailEvent>>,
        catch_up: bool,
        queue: VecDeque<Event>,
        stop: tokio::sync::watch::Receiver<bool>,
        done: bool,
    }
    let rx = state.tail.subscribe(state.store(), &state.stop);
    let f = Follow {
        rx,
        guard: Guard::new(&state, caller, doc.project),
        stop: state.stop.subscribe(),
        pos: 0,
        state,
        id,
        after: last_event_id(&headers).unwrap_or(0),
        catch_up: true,
        queue: VecDeque::new(),
        done: false,
    };
    let stream = futures::stream::unfold(f, |mut f| async move {
        loop {
            if let Some(ev) = f.queue.pop_front() {
                return Some((Ok(ev), f));
            }
            if f.done {
                return None;
            }
            if f.catch_up {
                if !f.guard.allowed(&f.state, false).await {
                    return None;
                }
                // Everything up to the head read now is visible to the stream read that follows (the store's
                // sequencer invariant); later events come through the tail.
                if f.pos == 0 {
                    f.pos = f.state.store().head().await.ok()?;
                }
                let events = f.state.store().read_stream(&f.id, f.after, 100).await.ok()?;
                let doc = f.state.store().document(&f.id).await.ok()??;
                for e in &events {
                    f.after = e.version;
                    f.queue.push_back(message(&doc, e, e.version));
                }
                // Finished once the projection is terminal and every one of its events has been sent.
                f.done = doc.status.is_terminal() && f.after >= doc.version;
                f.catch_up = !events.is_empty();
                continue;
            }
            match next(&mut f.rx, f.pos, &mut f.stop, f.guard.deadline()).await {
                Next::Event(t) => {
                    f.pos = t.event.sequence;
                    if t.event.stream != f.id || t.event.version <= f.after {
                        continue;
                    }
                    if !f.guard.allowed(&f.state, false).await {
                        return None;
                    }
                    let doc = t.doc.as_deref()?;
                    f.after = t.event.version;
                    f.queue.push_back(message(doc, &t.event, t.event.version));
                    f.done = doc.status.is_terminal() && f.after >= doc.version;
                }
                Next::CatchUp => (f.catch_up, f.pos) = (true, 0),
                Next::Check if !f.guard.allowed(&f.state, true).await => return None,
                Next::Check => {}
                Next::End => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Live progress of every document of a project (`id` = the log's global sequence). Without `Last-Event-ID` it
/// starts with what happens from now on.
#[utoipa::path(get, path = "/api/v1/projects/{project}/progress/stream", tag = "progress", security(("bearer" = [])),
    params(("project" = String, Path), ("Last-Event-ID" = Option<i64>, Header)),
    responses((status = 200, content_type = "text/event-stream", body = ProgressView)))]
pub async fn project_stream(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    caller.require(&state, &project, Role::Viewer).await?;
    let rx = state.tail.subscribe(state.store(), &state.stop);
    let pos = match last_event_id(&headers) {
        Some(seq) => seq,
        None => state.store().head().await?,
    };
    struct Follow {
        state: AppState,
        guard: Guard,
        project: String,
        /// The last global sequence read, from the store or the tail.
        pos: i64,
        rx: tokio::sync::broadcast::Receiver<Arc<TailEvent>>,
        catch_up: bool,
        queue: VecDeque<Event>,
        stop: tokio::sync::watch::Receiver<bool>,
    }
    let guard = Guard::new(&state, caller, Some(project.clone()));
    let f =
        Follow { stop: state.stop.subscribe(), rx, state, guard, project, pos, catch_up: true, queue: VecDeque::new() };
    let stream = futures::stream::unfold(f, |mut f| async move {
        loop {
            if let Some(ev) = f.queue.pop_front() {
                return Some((Ok(ev), f));
            }
            if f.catch_up {
                if !f.guard.allowed(&f.state, false).await {
                    return None;
                }
                // Only this project's events are read, never the instance's log filtered afterwards.
                let events = f.state.store().read_project(&f.project, f.pos, 500).await.ok()?;
                // Each stream's state is read once per page and serves both the ownership check and the messages.
                let mut states: HashMap<&str, Option<DocumentState>> = HashMap::new();
                for e in &events {
                    f.pos = e.sequence;
                    let doc = match states.get(e.stream.as_str()) {
                        Some(d) => d,
                        None => {
                            let d = f.state.store().document(&e.stream).await.ok()?;
                            states.entry(&e.stream).or_insert(d)
                        }
                    };
                    if let Some(doc) = doc.as_ref().filter(|d| d.project.as_deref() == Some(f.project.as_str())) {
                        f.queue.push_back(message(doc, e, e.sequence));
                    }
                }
                f.catch_up = !events.is_empty();
                continue;
            }
            match next(&mut f.rx, f.pos, &mut f.stop, f.guard.deadline()).await {
                Next::Event(t) => {
                    f.pos = t.event.sequence;
                    if let Some(doc) = t.doc.as_deref().filter(|d| d.project.as_deref() == Some(f.project.as_str())) {
                        if !f.guard.allowed(&f.state, false).await {
                            return None;
                        }
                        f.queue.push_back(message(doc, &t.event, t.event.sequence));
                    }
                }
                Next::CatchUp => f.catch_up = true,
                Next::Check if !f.guard.allowed(&f.state, true).await => return None,
                Next::Check => {}
                Next::End => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bindery_core::event::StoredEvent;
    use tokio::sync::{broadcast, watch};

    fn item(prev: i64, sequence: i64) -> Arc<TailEvent> {
        let event = StoredEvent {
            sequence,
            stream: "d".into(),
            version: sequence,
            id: format!("e{sequence}"),
            ty: "stage.completed".into(),
            data: serde_json::Value::Null,
            time_ms: 0,
            correlation_id: None,
            causation_id: None,
        };
        Arc::new(TailEvent { prev, event, doc: None })
    }

    fn seq(n: Next) -> Option<i64> {
        match n {
            Next::Event(t) => Some(t.event.sequence),
            Next::CatchUp => Some(-1),
            Next::End => None,
            Next::Check => Some(-2),
        }
    }

    fn far() -> tokio::time::Instant {
        tokio::time::Instant::now() + std::time::Duration::from_secs(3600)
    }

    #[tokio::test]
    async fn followers_skip_what_they_saw_and_catch_up_after_gaps_or_lag() {
        let (tx, mut rx) = broadcast::channel(4);
        let (stop_tx, mut stop) = watch::channel(false);
        // Already seen through the store: skipped. Contiguous: delivered.
        tx.send(item(4, 5)).unwrap();
        tx.send(item(5, 6)).unwrap();
        assert_eq!(seq(next(&mut rx, 5, &mut stop, far()).await), Some(6));
        // The tail started after this follower's position: a gap, so read the store.
        tx.send(item(9, 10)).unwrap();
        assert_eq!(seq(next(&mut rx, 6, &mut stop, far()).await), Some(-1));
        // A follower that fell more than the channel's capacity behind catches up too.
        for s in 11..20 {
            tx.send(item(s - 1, s)).unwrap();
        }
        assert_eq!(seq(next(&mut rx, 10, &mut stop, far()).await), Some(-1));
        // Shutdown ends a follower that is waiting on a live channel.
        let (_live, mut idle) = broadcast::channel::<Arc<TailEvent>>(1);
        stop_tx.send(true).unwrap();
        assert_eq!(seq(next(&mut idle, 0, &mut stop, far()).await), None);
        // A check that falls due wakes a follower that has nothing to read.
        let (_live, mut quiet) = broadcast::channel::<Arc<TailEvent>>(1);
        let (_s, mut running) = watch::channel(false);
        let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(10);
        assert_eq!(seq(next(&mut quiet, 0, &mut running, soon).await), Some(-2));
    }
}
