//! Webhook endpoints of a project, their signing secrets and their delivery log.
//!
//! Roles: owners do everything that changes an endpoint or reveals or uses its secret (create, change, delete,
//! rotate, send a test, retry a delivery); editors may read the endpoints and their delivery logs, to debug an
//! integration; viewers see nothing of webhooks (URLs often carry tokens of the receiving system). As everywhere,
//! a non-member gets `not_found` for all of it.
//!
//! A URL is checked when it is set, so mistakes show at once rather than as failed deliveries: http or https only,
//! no user name or password, and no loopback, private, link-local or otherwise internal address unless the
//! operator allowlisted it (`ApiOptions::webhook_allow`, the `--webhook-allow` setting). A host name is resolved
//! and refused when it points only at such addresses; the dispatcher checks again at every delivery, since DNS
//! answers change.

use super::webhook_checks::{check_description, check_event_types, check_url};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::extract::{Path, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use bindery_core::time::now_ms;
use bindery_engine::webhooks::send_test;
use bindery_outbox::WebhookOptions;
use bindery_store::{DeliveryAttempt, Role, WebhookDelivery, WebhookEndpoint, WebhookUpdate};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
pub struct NewWebhook {
    /// Where events are posted (http or https), 1 to 2048 characters.
    #[schema(min_length = 1, max_length = 2048)]
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Exact event types (`document.ready`) or prefixes ending in `*` (`document.*`); empty or absent: every type.
    #[serde(default)]
    pub event_types: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct WebhookPatch {
    /// 1 to 2048 characters.
    #[schema(min_length = 1, max_length = 2048)]
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// Re-enabling clears the failure streak and sends the deliveries that waited at once.
    pub enabled: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Failed attempts in a row.
    pub failure_streak: i32,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The signing secret (`whsec_…`), only in the answers to creation and rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<WebhookEndpoint> for WebhookView {
    fn from(e: WebhookEndpoint) -> Self {
        WebhookView {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failure_streak: e.failure_streak,
            created_ms: e.created_ms,
            updated_ms: e.updated_ms,
            secret: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: i64,
    /// The CloudEvent id, sent as `webhook-id`.
    pub event_id: String,
    pub event_type: String,
    /// pending, delivered or failed.
    pub state: String,
    pub attempts: i32,
    /// When the next attempt is due, while pending.
    pub next_attempt_ms: Option<i64>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl From<&WebhookDelivery> for DeliveryView {
    fn from(d: &WebhookDelivery) -> Self {
        DeliveryView {
            id: d.id,
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_ms: (d.state == bindery_store::DeliveryState::Pending).then_some(d.next_attempt_ms),
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            created_ms: d.created_ms,
            updated_ms: d.updated_ms,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    /// Newest first.
    pub items: Vec<DeliveryView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i32,
    pub time_ms: i64,
    /// The endpoint's answer; absent when there was none (timeout, refused connection).
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl From<DeliveryAttempt> for AttemptView {
    fn from(a: DeliveryAttempt) -> Self {
        AttemptView {
            attempt: a.attempt,
            time_ms: a.time_ms,
            status_code: a.status_code,
            error: a.error,
            duration_ms: a.duration_ms,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryDetail {
    pub delivery: DeliveryView,
    /// The body that is posted: the CloudEvent JSON.
    pub payload: Value,
    /// Every attempt, first first.
    pub attempts: Vec<AttemptView>,
}

#[derive(Serialize, ToSchema)]
pub struct TestResult {
    /// The test's entry in the delivery log.
    pub delivery: i64,
    pub event_id: String,
    pub delivered: bool,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Deserialize, IntoParams)]
pub struct DeliveryPage {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// At most 200; default 50.
    pub limit: Option<i64>,
}

/// The endpoint, or `not_found` when the project has none by that id.
async fn endpoint(state: &AppState, project: &str, id: &str) -> ApiResult<WebhookEndpoint> {
    state.store().webhook(project, id).await?.ok_or_else(|| ApiError::not_found(format!("webhook {id}")))
}

/// A delivery id from the path; anything but a number names no delivery.
fn delivery_id(raw: &str) -> ApiResult<i64> {
    raw.parse().map_err(|_| ApiError::not_found(format!("delivery {raw}")))
}

fn with_secret(e: WebhookEndpoint, secret: String) -> WebhookView {
    WebhookView { secret: Some(secret), ..WebhookView::from(e) }
}

/// The project's webhook endpoints (without secrets). Editors and owners.
#[utoipa::path(get, path = "/api/v1/projects/{project}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("project" = String, Path)), responses((status = 200, body = [WebhookView]), (status = 404, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<Json<Vec<WebhookView>>> {
    caller.require(&state, &project, Role::Editor).await?;
    Ok(Json(state.store().webhooks(&project).await?.into_iter().map(WebhookView::from).collect()))
}

/// Registers an endpoint; the signing secret is in this response (and the rotation's) only. Owners only.
#[utoipa::path(post, path = "/api/v1/projects/{project}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("project" = String, Path)), request_body = NewWebhook,
    responses((status = 201, body = WebhookView), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Json(req): Json<NewWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    caller.require(&state, &project, Role::Owner).await?;
    let now = now_ms();
    let endpoint = WebhookEndpoint {
        id: uuid::Uuid::now_v7().to_string(),
        project,
        url: check_url(&req.url, &state.options.webhook_allow).await?,
        description: check_description(&req.description)?,
        event_types: check_event_types(&req.event_types)?,
        enabled: true,
        disabled_reason: None,
        failure_streak: 0,
        created_ms: now,
        updated_ms: now,
    };
    let secret = bindery_outbox::generate_secret();
    state.store().create_webhook(&endpoint, &secret).await?;
    Ok((StatusCode::CREATED, Json(with_secret(endpoint, secret))))
}

/// One endpoint (without its secret). Editors and owners.
#[utoipa::path(get, path = "/api/v1/projects/{project}/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("project" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Json<WebhookView>> {
    caller.require(&state, &project, Role::Editor).await?;
    Ok(Json(endpoint(&state, &project, &id).await?.into()))
}

/// Changes an endpoint's URL, description, event types, or enables or disables it. Owners only.
#[utoipa::path(patch, path = "/api/v1/projects/{project}/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("project" = String, Path), ("id" = String, Path)), request_body = WebhookPatch,
    responses((status = 200, body = WebhookView), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, String)>,
    Json(req): Json<WebhookPatch>,
) -> ApiResult<Json<WebhookView>> {
    caller.require(&state, &project, Role::Owner).await?;
    let url = match &req.url {
        Some(u) => Some(check_url(u, &state.options.webhook_allow).await?),
        None => None,
    };
    let update = WebhookUpdate {
        url,
        description: req.description.as_deref().map(check_description).transpose()?,
        event_types: req.event_types.as_deref().map(check_event_types).transpose()?,
        enabled: req.enabled,
    };
    let changed = state.store().update_webhook(&project, &id, &update, now_ms()).await?;
    Ok(Json(changed.ok_or_else(|| ApiError::not_found(format!("webhook {id}")))?.into()))
}

/// Deletes an endpoint and its delivery log. Owners only.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("project" = String, Path), ("id" = String, Path)), responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(&state, &project, Role::Owner).await?;
    if state.store().delete_webhook(&project, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("webhook {id}")))
    }
}

/// Replaces the signing secret at once and returns the new one. Owners only.
#[utoipa::path(post, path = "/api/v1/projects/{project}/webhooks/{id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("project" = String, Path), ("id" = String, Path)), responses((status = 200, body = WebhookView), (status = 404, body = crate::error::Problem)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Json<WebhookView>> {
    caller.require(&state, &project, Role::Owner).await?;
    let secret = bindery_outbox::generate_secret();
    if !state.store().rotate_webhook_secret(&project, &id, &secret, now_ms()).await? {
        return Err(ApiError::not_found(format!("webhook {id}")));
    }
    Ok(Json(with_secret(endpoint(&state, &project, &id).await?, secret)))
}

/// Sends a `webhook.test` event now (enabled or not), records it in the delivery log and returns the endpoint's
/// answer. Tried once, never counted against the endpoint. Owners only.
#[utoipa::path(post, path = "/api/v1/projects/{project}/webhooks/{id}/test", tag = "webhooks", security(("bearer" = [])),
    params(("project" = String, Path), ("id" = String, Path)), responses((status = 200, body = TestResult), (status = 404, body = crate::error::Problem)))]
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, String)>,
) -> ApiResult<Json<TestResult>> {
    caller.require(&state, &project, Role::Owner).await?;
    let e = endpoint(&state, &project, &id).await?;
    let options = WebhookOptions { allow: state.options.webhook_allow.clone(), ..WebhookOptions::default() };
    let t = send_test(&state.engine, &e, &options).await?;
    Ok(Json(TestResult {
        delivery: t.delivery,
        event_id: t.event_id,
        delivered: t.delivered,
        status_code: t.status_code,
        error: t.error,
        duration_ms: t.duration_ms,
    }))
}

/// The endpoint's deliveries, newest first, a page at a time. Editors and owners.
#[utoipa::path(get, path = "/api/v1/projects/{project}/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("project" = String, Path), ("id" = String, Path), DeliveryPage),
    responses((status = 200, body = DeliveryList), (status = 404, body = crate::error::Problem)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, id)): Path<(String, String)>,
    Query(page): Query<DeliveryPage>,
) -> ApiResult<Json<DeliveryList>> {
    caller.require(&state, &project, Role::Editor).await?;
    endpoint(&state, &project, &id).await?;
    // An empty `after=` is the first page, as an absent one.
    let before = match page.after.as_deref().filter(|a| !a.is_empty()) {
        Some(c) => Some(c.parse::<i64>().map_err(|_| ApiError::BadRequest(format!("invalid cursor {c:?}")))?),
        None => None,
    };
    let limit = page.limit.unwrap_or(50).clamp(1, 200);
    let rows = state.store().deliveries(&id, before, limit).await?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|d| d.id.to_string())).flatten();
    Ok(Json(DeliveryList { items: rows.iter().map(DeliveryView::from).collect(), next }))
}

/// One delivery with its payload and every attempt. Editors and owners.
#[utoipa::path(get, path = "/api/v1/projects/{project}/webhooks/{id}/deliveries/{delivery}", tag = "webhooks",
    security(("bearer" = [])), params(("project" = String, Path), ("id" = String, Path), ("delivery" = i64, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = crate::error::Problem)))]
pub async fn delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, id, delivery)): Path<(String, String, String)>,
) -> ApiResult<Json<DeliveryDetail>> {
    caller.require(&state, &project, Role::Editor).await?;
    endpoint(&state, &project, &id).await?;
    let d = state
        .store()
        .delivery(&id, delivery_id(&delivery)?)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("delivery {delivery}")))?;
    let attempts = state.store().delivery_attempts(d.id).await?;
    Ok(Json(DeliveryDetail {
        delivery: DeliveryView::from(&d),
        payload: d.payload,
        attempts: attempts.into_iter().map(AttemptView::from).collect(),
    }))
}

/// Sends a delivery again as soon as possible, whatever its state; one that used all its attempts gets one more.
/// Owners only.
#[utoipa::path(post, path = "/api/v1/projects/{project}/webhooks/{id}/deliveries/{delivery}/retry", tag = "webhooks",
    security(("bearer" = [])), params(("project" = String, Path), ("id" = String, Path), ("delivery" = i64, Path)),
    responses((status = 202, body = DeliveryView), (status = 404, body = crate::error::Problem)))]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, id, delivery)): Path<(String, String, String)>,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    caller.require(&state, &project, Role::Owner).await?;
    endpoint(&state, &project, &id).await?;
    let d = state
        .store()
        .retry_delivery(&id, delivery_id(&delivery)?, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("delivery {delivery}")))?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(&d))))
}
