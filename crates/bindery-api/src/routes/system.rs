//! Liveness, readiness and metrics, outside `/api/v1` and without authentication, for load balancers and Prometheus:
//! on the public listener, or on their own (`ApiOptions::ops_listen`), which then keeps them off the public one.

use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{json, Value};

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = Object)))]
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve: its database answers.
#[utoipa::path(get, path = "/ready", tag = "system",
    responses((status = 200, body = Object), (status = 503, body = crate::error::Problem)))]
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let head = state.store().head().await.map_err(|e| {
        // The cause stays in the log; a load balancer needs only the answer.
        tracing::warn!(error = %e, "not ready: the database does not answer");
        ApiError::Unavailable("the database does not answer".into())
    })?;
    Ok(Json(json!({"status": "ready", "backend": state.store().backend(), "events": head})))
}

/// Prometheus metrics of this process (engine, outbox and HTTP counters).
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let handle = state.metrics.as_ref().ok_or_else(|| ApiError::not_found("metrics (no recorder installed)"))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()))
}
