//! The administration page, for instance administrators: queue depths, running jobs (with a cancel of their
//! document), dead jobs (with a retry), every project's webhook endpoints at a glance, and the language-model
//! providers' circuit breakers.
//!
//! Everything comes from the admin API's handlers (`routes::admin`, which refuse anyone but an instance
//! administrator) and, per project, from the webhooks API's own list handler, so the page needs no query of its own.
//! The admin API has no way to cancel a single job; what it offers for a running job is cancelling the job's
//! document through the documents API, which is what the button does.

use super::session::{CsrfForm, Session};
use super::{page, Frame, UiResult};
use crate::extract::Json;
use crate::extract::{Path, Query};
use crate::routes::{admin, webhooks};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// Jobs shown per table: enough to act on, few enough that the page stays quick on a busy instance.
const JOBS_ON_PAGE: i64 = 200;

struct JobRow {
    id: i64,
    queue: String,
    kind: String,
    document: String,
    attempts: i32,
    error: String,
}

impl From<bindery_core::Job> for JobRow {
    fn from(j: bindery_core::Job) -> Self {
        JobRow {
            id: j.id,
            queue: j.queue,
            kind: j.kind,
            document: j.document.unwrap_or_default(),
            attempts: j.attempt,
            error: j.last_error.unwrap_or_default(),
        }
    }
}

/// One project's line in the webhooks section.
struct ProjectHooks {
    id: String,
    name: String,
    endpoints: usize,
    /// Endpoints whose last attempts failed (a failure streak), enabled or not.
    failing: usize,
    disabled: usize,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    frame: Frame,
    queues: Vec<admin::QueueDepth>,
    running: Vec<JobRow>,
    dead: Vec<JobRow>,
    hooks: Vec<ProjectHooks>,
    providers: Vec<admin::ProviderView>,
    retried: Option<String>,
    cancelled: Option<String>,
}

#[derive(Deserialize)]
pub struct AdminQuery {
    retried: Option<String>,
    cancelled: Option<String>,
}

async fn jobs_in(state: &AppState, session: &Session, job_state: &str) -> UiResult<Vec<JobRow>> {
    let query = admin::JobsQuery { state: Some(job_state.into()), after: None, limit: Some(JOBS_ON_PAGE) };
    let Json(jobs) = admin::jobs(State(state.clone()), session.caller.clone(), Query(query)).await?;
    Ok(jobs.into_iter().map(JobRow::from).collect())
}

/// Queues, running and dead jobs, and webhooks per project, for instance administrators (others get "not allowed").
pub async fn show(State(state): State<AppState>, session: Session, Query(q): Query<AdminQuery>) -> UiResult<Response> {
    let caller = session.caller.clone();
    let Json(queues) = admin::queues(State(state.clone()), caller.clone()).await?;
    let running = jobs_in(&state, &session, "running").await?;
    let dead = jobs_in(&state, &session, "dead").await?;
    let Json(projects) = admin::projects(State(state.clone()), caller.clone()).await?;
    // One read per project: an administrator is an owner everywhere, so the webhooks API's own handler answers
    // for every project, with no query that only this page would use.
    let mut hooks = Vec::with_capacity(projects.len());
    for p in projects {
        let Json(endpoints) = webhooks::list(State(state.clone()), caller.clone(), Path(p.id.clone())).await?;
        hooks.push(ProjectHooks {
            endpoints: endpoints.len(),
            failing: endpoints.iter().filter(|e| e.failure_streak > 0).count(),
            disabled: endpoints.iter().filter(|e| !e.enabled).count(),
            id: p.id,
            name: p.name,
        });
    }
    let Json(providers) = admin::providers(State(state.clone()), caller.clone()).await?;
    let frame = Frame::of(&session, "admin");
    let admin_page =
        AdminPage { frame, queues, running, dead, hooks, providers, retried: q.retried, cancelled: q.cancelled };
    Ok(page(StatusCode::OK, &admin_page))
}

#[derive(Deserialize)]
pub struct Empty {}

/// Retries a dead job through the API's handler, then shows the admin page again.
pub async fn retry_job(
    State(state): State<AppState>,
    Path(job): Path<i64>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    let Json(_retried) = admin::retry(State(state), session.caller, Path(job)).await?;
    Ok(Redirect::to(&format!("/ui/admin?retried={job}")).into_response())
}
