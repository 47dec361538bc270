//! Instance administration: queues and their depth, jobs by state (dead letters), retrying dead jobs, every project.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::extract::{Path, Query};
use crate::AppState;
use axum::extract::State;
use bindery_core::JobState;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Serialize, ToSchema)]
pub struct QueueDepth {
    pub queue: String,
    pub state: String,
    pub count: i64,
}

/// Jobs per queue and state.
#[utoipa::path(get, path = "/api/v1/admin/queues", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [QueueDepth]), (status = 403, body = crate::error::Problem)))]
pub async fn queues(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<QueueDepth>>> {
    caller.require_admin()?;
    let stats = state.store().queue_stats().await?;
    Ok(Json(stats.into_iter().map(|s| QueueDepth { queue: s.queue, state: s.state, count: s.count }).collect()))
}

/// A job state, as the schema names it.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum JobStateName {
    Available,
    Running,
    Completed,
    Dead,
    Cancelled,
}

#[derive(Deserialize, IntoParams)]
pub struct JobsQuery {
    /// available, running, completed, dead or cancelled; default dead.
    #[param(value_type = Option<JobStateName>)]
    pub state: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

/// Jobs in one state, oldest first (`state=dead` lists the dead letters).
#[utoipa::path(get, path = "/api/v1/admin/jobs", tag = "admin", security(("bearer" = [])),
    params(JobsQuery), responses((status = 200, body = [Object])))]
pub async fn jobs(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<JobsQuery>,
) -> ApiResult<Json<Vec<bindery_core::Job>>> {
    caller.require_admin()?;
    let wanted = q.state.as_deref().unwrap_or("dead");
    let job_state = JobState::ALL
        .into_iter()
        .find(|s| s.as_str() == wanted)
        .ok_or_else(|| ApiError::BadRequest(format!("unknown job state {wanted:?}")))?;
    let jobs = state.store().jobs(Some(job_state), q.after.unwrap_or(0), q.limit.unwrap_or(100).clamp(1, 1000)).await?;
    Ok(Json(jobs))
}

#[derive(Serialize, ToSchema)]
pub struct Retried {
    pub jobs: u64,
    /// Documents reopened because their failed job runs again.
    pub documents: Vec<String>,
}

/// Runs a dead job again (and reopens its document).
#[utoipa::path(post, path = "/api/v1/admin/jobs/{job}/retry", tag = "admin", security(("bearer" = [])),
    params(("job" = i64, Path)),
    responses((status = 200, body = Retried), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)))]
pub async fn retry(State(state): State<AppState>, caller: Caller, Path(job): Path<i64>) -> ApiResult<Json<Retried>> {
    caller.require_admin()?;
    let report = state.engine.retry_job(job).await?;
    Ok(Json(Retried { jobs: report.jobs, documents: report.documents }))
}

/// Every project of the instance.
#[utoipa::path(get, path = "/api/v1/admin/projects", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [Object])))]
pub async fn projects(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<bindery_store::Project>>> {
    caller.require_admin()?;
    Ok(Json(state.store().all_projects().await?))
}

/// A remote provider a stage depends on (a language model behind `enrich`), with its circuit breaker as this API
/// process sees it. Each worker process has its own breaker: across a deployment, the `bindery_llm_breaker_state`
/// metric of every process tells.
#[derive(Serialize, ToSchema)]
pub struct ProviderView {
    pub stage: String,
    pub provider: String,
    pub model: String,
    /// closed, half-open or open.
    pub breaker: String,
}

/// Remote providers of the pipeline's stages and their circuit breakers in this process.
#[utoipa::path(get, path = "/api/v1/admin/providers", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [ProviderView]), (status = 403, body = crate::error::Problem)))]
pub async fn providers(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ProviderView>>> {
    caller.require_admin()?;
    Ok(Json(provider_views(&state)))
}

/// What `providers` answers, for the admin page too.
pub fn provider_views(state: &AppState) -> Vec<ProviderView> {
    state
        .engine
        .registry()
        .stages()
        .flat_map(|(stage, s)| {
            s.providers().into_iter().map(move |p| ProviderView {
                stage: stage.to_owned(),
                provider: p.provider,
                model: p.model,
                breaker: p.breaker,
            })
        })
        .collect()
}
