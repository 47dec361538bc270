//! A project's webhooks: the list of endpoints with a form to add one, and a page per endpoint with its recent
//! deliveries and the owner's actions (test, enable or disable, rotate the secret, delete, retry a delivery).
//!
//! Each page and action calls the webhooks API's own handler (`routes::webhooks`), so the roles are the API's
//! (editors read endpoints and deliveries, owners change them) and a URL typed here passes the same SSRF checks
//! (`routes::webhook_checks`) as one sent to the API. A signing secret exists only in the answer that creates or
//! rotates it, so it is rendered into that answer and never into a URL or a later page.

use super::session::{CsrfForm, Session};
use super::{page, when, Frame, UiResult};
use crate::error::ApiError;
use crate::extract::Json;
use crate::extract::{Path, Query};
use crate::routes::projects::{self, ProjectView};
use crate::routes::webhooks::{self as api, DeliveryPage, NewWebhook, WebhookPatch, WebhookView};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use bindery_store::Role;
use serde::Deserialize;

/// Deliveries shown per page of an endpoint's log.
const DELIVERIES_ON_PAGE: i64 = 50;

struct EndpointRow {
    id: String,
    url: String,
    description: String,
    /// The filter for people: the types, or "every event".
    events: String,
    enabled: bool,
    disabled_reason: String,
    failures: i32,
    created: String,
}

impl From<WebhookView> for EndpointRow {
    fn from(e: WebhookView) -> Self {
        EndpointRow {
            events: if e.event_types.is_empty() { "every event".into() } else { e.event_types.join(", ") },
            disabled_reason: e.disabled_reason.unwrap_or_default(),
            created: when(e.created_ms),
            id: e.id,
            url: e.url,
            description: e.description,
            enabled: e.enabled,
            failures: e.failure_streak,
        }
    }
}

/// A secret just made (by creation or rotation), shown this once.
struct Secret {
    endpoint: String,
    url: String,
    value: String,
}

/// What the creation form holds, kept when the page is shown again after a refusal.
#[derive(Default)]
struct NewForm {
    error: Option<String>,
    url: String,
    event_types: String,
    description: String,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    frame: Frame,
    project_id: String,
    project_name: String,
    can_manage: bool,
    endpoints: Vec<EndpointRow>,
    secret: Option<Secret>,
    notice: Option<&'static str>,
    form: NewForm,
}

/// The project (its name and the caller's role) through the API's handler: a non-member gets "not found".
async fn project(state: &AppState, session: &Session, project: &str) -> UiResult<ProjectView> {
    let Json(p) = projects::get(State(state.clone()), session.caller.clone(), Path(project.to_owned())).await?;
    Ok(p)
}

async fn render_list(
    state: &AppState,
    session: &Session,
    project_id: &str,
    status: StatusCode,
    secret: Option<Secret>,
    notice: Option<&'static str>,
    form: NewForm,
) -> UiResult<Response> {
    let p = project(state, session, project_id).await?;
    // Editors and owners; a viewer gets "not allowed", as from the API.
    let Json(endpoints) = api::list(State(state.clone()), session.caller.clone(), Path(p.id.clone())).await?;
    let list = WebhooksPage {
        frame: Frame::of(session, "projects"),
        can_manage: p.role.allows(Role::Owner),
        project_id: p.id,
        project_name: p.name,
        endpoints: endpoints.into_iter().map(EndpointRow::from).collect(),
        secret,
        notice,
        form,
    };
    Ok(page(status, &list))
}

#[derive(Deserialize)]
pub struct ListQuery {
    done: Option<String>,
}

/// The project's endpoints, with the form to add one for owners.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Path(project): Path<String>,
    Query(q): Query<ListQuery>,
) -> UiResult<Response> {
    let notice = (q.done.as_deref() == Some("deleted")).then_some("The endpoint and its delivery log were deleted.");
    render_list(&state, &session, &project, StatusCode::OK, None, notice, NewForm::default()).await
}

#[derive(Deserialize)]
pub struct NewWebhookForm {
    url: String,
    /// Separated by commas or white space; empty: every event.
    #[serde(default)]
    event_types: String,
    #[serde(default)]
    description: String,
}

/// Splits the filter as typed: `document.ready, stage.*` or one per line.
fn event_types(typed: &str) -> Vec<String> {
    typed.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// Registers an endpoint through the API's handler and shows its signing secret, this once. A refused URL (the
/// SSRF rules) or filter comes back as the form, as typed, with the API's reason.
pub async fn create(
    State(state): State<AppState>,
    Path(project): Path<String>,
    CsrfForm(session, form): CsrfForm<NewWebhookForm>,
) -> UiResult<Response> {
    let request = NewWebhook {
        url: form.url.clone(),
        description: form.description.clone(),
        event_types: event_types(&form.event_types),
    };
    match api::create(State(state.clone()), session.caller.clone(), Path(project.clone()), Json(request)).await {
        Ok((_, Json(created))) => {
            let value =
                created.secret.ok_or_else(|| ApiError::Internal("a new webhook came without its secret".into()))?;
            let secret = Secret { endpoint: created.id, url: created.url, value };
            let notice = Some("The endpoint was added.");
            render_list(&state, &session, &project, StatusCode::CREATED, Some(secret), notice, NewForm::default()).await
        }
        Err(e @ ApiError::Unprocessable(_)) => {
            let form = NewForm {
                error: Some(format!("The endpoint was not added: {e}.")),
                url: form.url,
                event_types: form.event_types,
                description: form.description,
            };
            render_list(&state, &session, &project, StatusCode::UNPROCESSABLE_ENTITY, None, None, form).await
        }
        Err(e) => Err(e.into()),
    }
}

// ----- One endpoint -----

struct DeliveryRow {
    id: i64,
    event_type: String,
    state: String,
    attempts: i32,
    status_code: String,
    error: String,
    created: String,
    next_attempt: String,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct EndpointPage {
    frame: Frame,
    project_id: String,
    project_name: String,
    can_manage: bool,
    endpoint: EndpointRow,
    deliveries: Vec<DeliveryRow>,
    first_page: bool,
    next: Option<String>,
    secret: Option<Secret>,
    notice: Option<String>,
    /// A notice that reports a failure (a test that was not delivered), shown as an alert.
    failed: bool,
}

#[derive(Deserialize, Default)]
pub struct EndpointQuery {
    after: Option<String>,
    /// The delivery of a test just sent from this page, whose outcome the page reports.
    tested: Option<String>,
    retried: Option<String>,
    done: Option<String>,
}

async fn render_endpoint(
    state: &AppState,
    session: &Session,
    (project_id, id): (String, String),
    q: EndpointQuery,
    secret: Option<Secret>,
) -> UiResult<Response> {
    let p = project(state, session, &project_id).await?;
    let caller = session.caller.clone();
    let path = (p.id.clone(), id.clone());
    let Json(endpoint) = api::get(State(state.clone()), caller.clone(), Path(path.clone())).await?;
    let paging = DeliveryPage { after: q.after.clone(), limit: Some(DELIVERIES_ON_PAGE) };
    let Json(log) = api::deliveries(State(state.clone()), caller.clone(), Path(path), Query(paging)).await?;
    let (mut notice, mut failed) = (None, false);
    if let Some(tested) = q.tested {
        let path = Path((p.id.clone(), id.clone(), tested.clone()));
        if let Ok(Json(d)) = api::delivery(State(state.clone()), caller, path).await {
            let answer = match (d.delivery.last_status_code, d.delivery.last_error.as_deref()) {
                (Some(code), _) => format!("the endpoint answered HTTP {code}"),
                (None, Some(error)) => format!("no answer: {error}"),
                (None, None) => "no answer".to_owned(),
            };
            failed = d.delivery.state != "delivered";
            notice = Some(if failed {
                format!("The test delivery {tested} failed: {answer}.")
            } else {
                format!("The test delivery {tested} was delivered: {answer}.")
            });
        }
    } else if let Some(retried) = q.retried.and_then(|r| r.parse::<i64>().ok()) {
        notice = Some(format!("Delivery {retried} will be sent again shortly."));
    } else {
        notice = match q.done.as_deref() {
            Some("enabled") => Some("The endpoint is enabled; deliveries that waited are sent now.".into()),
            Some("disabled") => Some("The endpoint is disabled; new events wait until it is enabled again.".into()),
            _ => None,
        };
    }
    let deliveries = log
        .items
        .into_iter()
        .map(|d| DeliveryRow {
            status_code: d.last_status_code.map(|c| c.to_string()).unwrap_or_default(),
            error: d.last_error.unwrap_or_default(),
            created: when(d.created_ms),
            next_attempt: d.next_attempt_ms.map(when).unwrap_or_default(),
            id: d.id,
            event_type: d.event_type,
            state: d.state,
            attempts: d.attempts,
        })
        .collect();
    let endpoint_page = EndpointPage {
        frame: Frame::of(session, "projects"),
        can_manage: p.role.allows(Role::Owner),
        project_id: p.id,
        project_name: p.name,
        endpoint: endpoint.into(),
        deliveries,
        first_page: q.after.is_none(),
        next: log.next,
        secret,
        notice,
        failed,
    };
    Ok(page(StatusCode::OK, &endpoint_page))
}

/// One endpoint: its settings, its deliveries newest first (a page at a time), and the owner's actions.
pub async fn endpoint(
    State(state): State<AppState>,
    session: Session,
    Path(path): Path<(String, String)>,
    Query(q): Query<EndpointQuery>,
) -> UiResult<Response> {
    render_endpoint(&state, &session, path, q, None).await
}

fn endpoint_url(project: &str, id: &str, query: &str) -> String {
    format!("/ui/projects/{project}/webhooks/{id}?{query}")
}

#[derive(Deserialize)]
pub struct Empty {}

async fn set_enabled(
    state: AppState,
    session: Session,
    (project, id): (String, String),
    on: bool,
) -> UiResult<Response> {
    let patch = WebhookPatch { url: None, description: None, event_types: None, enabled: Some(on) };
    let Json(_changed) =
        api::update(State(state), session.caller, Path((project.clone(), id.clone())), Json(patch)).await?;
    let done = if on { "done=enabled" } else { "done=disabled" };
    Ok(Redirect::to(&endpoint_url(&project, &id, done)).into_response())
}

/// Enables an endpoint (which clears its failure streak), through the API's handler.
pub async fn enable(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    set_enabled(state, session, path, true).await
}

/// Disables an endpoint: events keep being logged for it, but nothing is sent until it is enabled again.
pub async fn disable(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    set_enabled(state, session, path, false).await
}

/// Sends a `webhook.test` event now through the API's handler, then shows the endpoint with the outcome, which
/// the test wrote into the delivery log.
pub async fn test(
    State(state): State<AppState>,
    Path((project, id)): Path<(String, String)>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    let Json(t) = api::test(State(state), session.caller, Path((project.clone(), id.clone()))).await?;
    Ok(Redirect::to(&endpoint_url(&project, &id, &format!("tested={}", t.delivery))).into_response())
}

/// Replaces the signing secret through the API's handler and shows the new one, this once.
pub async fn rotate_secret(
    State(state): State<AppState>,
    Path((project, id)): Path<(String, String)>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    let path = Path((project.clone(), id.clone()));
    let Json(rotated) = api::rotate_secret(State(state.clone()), session.caller.clone(), path).await?;
    let value = rotated.secret.ok_or_else(|| ApiError::Internal("a rotation came without its secret".into()))?;
    let secret = Secret { endpoint: rotated.id, url: rotated.url, value };
    render_endpoint(&state, &session, (project, id), EndpointQuery::default(), Some(secret)).await
}

/// Deletes an endpoint and its delivery log through the API's handler.
pub async fn delete(
    State(state): State<AppState>,
    Path((project, id)): Path<(String, String)>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    api::delete(State(state), session.caller, Path((project.clone(), id))).await?;
    Ok(Redirect::to(&format!("/ui/projects/{project}/webhooks?done=deleted")).into_response())
}

/// Sends a delivery again as soon as possible, through the API's handler.
pub async fn retry(
    State(state): State<AppState>,
    Path((project, id, delivery)): Path<(String, String, String)>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    let path = Path((project.clone(), id.clone(), delivery.clone()));
    let (_, Json(d)) = api::retry(State(state), session.caller, path).await?;
    Ok(Redirect::to(&endpoint_url(&project, &id, &format!("retried={}", d.id))).into_response())
}

#[cfg(test)]
mod tests {
    use super::event_types;

    #[test]
    fn filters_split_on_commas_and_space() {
        assert_eq!(
            event_types(" document.ready, stage.*\ndocument.failed,,"),
            ["document.ready", "stage.*", "document.failed"]
        );
        assert!(event_types("  ").is_empty());
    }
}
