//! Progress: a snapshot, and Server-Sent Events streams per document and per project.
//!
//! Every SSE message carries an `id` (the document stream's version, or the log's global sequence for a project), so
//! a client that reconnects with `Last-Event-ID` resumes exactly after the last message it saw; browsers do this on
//! their own. A stream waits on the store's commit notifications and also polls once a second, because commits made
//! by workers in other processes do not notify this one.

use super::documents::authorize;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use bindery_core::event::StoredEvent;
use bindery_core::{DocumentState, Progress};
use bindery_store::Role;
use futures::Stream;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;
use utoipa::ToSchema;

/// How often a stream looks for events committed by other processes.
const POLL: Duration = Duration::from_secs(1);

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

/// Waits for a commit in this process, a poll tick, or shutdown (false).
async fn wait(state: &AppState, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    let notify = state.store().events_notify();
    tokio::select! {
        _ = notify.notified() => true,
        _ = tokio::time::sleep(POLL) => true,
        _ = stop.wait_for(|s| *s) => false,
    }
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
    authorize(&state, &caller, &id, Role::Viewer).await?;
    struct Tail {
        state: AppState,
        id: String,
        after: i64,
        queue: VecDeque<Event>,
        stop: tokio::sync::watch::Receiver<bool>,
        done: bool,
    }
    let tail = Tail {
        stop: state.stop.subscribe(),
        state,
        id,
        after: last_event_id(&headers).unwrap_or(0),
        queue: VecDeque::new(),
        done: false,
    };
    let stream = futures::stream::unfold(tail, |mut t| async move {
        loop {
            if let Some(ev) = t.queue.pop_front() {
                return Some((Ok(ev), t));
            }
            if t.done {
                return None;
            }
            let events = t.state.store().read_stream(&t.id, t.after, 100).await.unwrap_or_default();
            if !events.is_empty() {
                let Ok(Some(doc)) = t.state.store().document(&t.id).await else { return None };
                for e in &events {
                    t.after = e.version;
                    let data = serde_json::to_string(&ProgressView::of(&doc, Some(e))).unwrap_or_default();
                    t.queue.push_back(Event::default().event("progress").id(e.version.to_string()).data(data));
                }
                // Finished once the projection is terminal and every one of its events has been sent.
                t.done = doc.status.is_terminal() && t.after >= doc.version;
                continue;
            }
            if !wait(&t.state, &mut t.stop).await {
                return None;
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
    let after = match last_event_id(&headers) {
        Some(seq) => seq,
        None => state.store().head().await?,
    };
    struct Tail {
        state: AppState,
        project: String,
        after: i64,
        /// Which project each stream seen so far belongs to (`None`: another project's, or the CLI's).
        owners: HashMap<String, bool>,
        queue: VecDeque<Event>,
        stop: tokio::sync::watch::Receiver<bool>,
    }
    let tail =
        Tail { stop: state.stop.subscribe(), state, project, after, owners: HashMap::new(), queue: VecDeque::new() };
    let stream = futures::stream::unfold(tail, |mut t| async move {
        loop {
            if let Some(ev) = t.queue.pop_front() {
                return Some((Ok(ev), t));
            }
            let events = t.state.store().read_all(t.after, 500).await.unwrap_or_default();
            if t.owners.len() > 100_000 {
                t.owners.clear();
            }
            // Each stream's state is read once per batch and serves both the ownership check and the messages.
            let mut states: HashMap<&str, Option<DocumentState>> = HashMap::new();
            for e in &events {
                t.after = e.sequence;
                if t.owners.get(&e.stream) == Some(&false) {
                    continue;
                }
                let doc = match states.get(e.stream.as_str()) {
                    Some(d) => d,
                    None => {
                        let Ok(d) = t.state.store().document(&e.stream).await else { return None };
                        states.entry(&e.stream).or_insert(d)
                    }
                };
                let ours = doc.as_ref().and_then(|d| d.project.as_deref()) == Some(t.project.as_str());
                t.owners.insert(e.stream.clone(), ours);
                if let (true, Some(doc)) = (ours, doc) {
                    let data = serde_json::to_string(&ProgressView::of(doc, Some(e))).unwrap_or_default();
                    t.queue.push_back(Event::default().event("progress").id(e.sequence.to_string()).data(data));
                }
            }
            if events.is_empty() && !wait(&t.state, &mut t.stop).await {
                return None;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
