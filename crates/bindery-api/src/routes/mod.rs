//! The route table: every path of the API, in one place.

pub mod accounts;
pub mod admin;
pub mod artifacts;
pub mod documents;
pub mod invitations;
pub mod lifecycle;
pub mod limit;
pub mod progress;
pub mod projects;
pub mod system;
pub mod usage;
mod webhook_checks;
pub mod webhooks;

use crate::error::ApiError;
use crate::idempotency::secret_bearing;
use crate::AppState;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state, map_response, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// The largest JSON body of the sign-in routes: an e-mail address, a password or a token, with room to spare.
const AUTH_BODY_LIMIT: usize = 16 << 10;

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route(
            "/auth/login",
            post(accounts::login).layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT)).layer(map_response(secret_bearing)),
        )
        .route(
            "/auth/refresh",
            post(accounts::refresh).layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT)).layer(map_response(secret_bearing)),
        )
        .route("/auth/logout", post(accounts::logout))
        .route("/me", get(accounts::me))
        .route("/users", post(accounts::create_user))
        .route("/projects", get(projects::list).post(projects::create))
        .route("/projects/{project}", get(projects::get).patch(projects::update))
        .route("/analyzers", get(projects::analyzers))
        .route("/projects/{project}/members", get(projects::members).put(projects::set_member))
        .route("/projects/{project}/members/{user}", delete(projects::remove_member))
        .route("/projects/{project}/invitations", get(invitations::pending).post(invitations::invite))
        .route("/projects/{project}/invitations/{invitation}", delete(invitations::revoke))
        .route("/invitations", get(invitations::mine))
        .route("/invitations/{invitation}", delete(invitations::decline))
        .route("/invitations/{invitation}/accept", post(invitations::accept))
        .route(
            "/projects/{project}/api-keys",
            get(projects::api_keys).post(projects::create_api_key).layer(map_response(secret_bearing)),
        )
        .route("/projects/{project}/api-keys/{key}", delete(projects::revoke_api_key))
        .route("/projects/{project}/usage", get(usage::get))
        .route(
            "/projects/{project}/documents",
            get(documents::list)
                .post(documents::upload)
                // The upload handler enforces its own, configurable limit while streaming.
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/projects/{project}/progress/stream", get(progress::project_stream))
        .route(
            "/projects/{project}/webhooks",
            get(webhooks::list).post(webhooks::create).layer(map_response(secret_bearing)),
        )
        .route("/projects/{project}/webhooks/{id}", get(webhooks::get).patch(webhooks::update).delete(webhooks::delete))
        .route(
            "/projects/{project}/webhooks/{id}/rotate-secret",
            post(webhooks::rotate_secret).layer(map_response(secret_bearing)),
        )
        .route("/projects/{project}/webhooks/{id}/test", post(webhooks::test))
        .route("/projects/{project}/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/projects/{project}/webhooks/{id}/deliveries/{delivery}", get(webhooks::delivery))
        .route("/projects/{project}/webhooks/{id}/deliveries/{delivery}/retry", post(webhooks::retry))
        .route("/documents/{id}", get(documents::get).delete(lifecycle::delete))
        .route("/documents/{id}/cancel", post(documents::cancel))
        .route("/documents/{id}/reprocess", post(lifecycle::reprocess))
        .route("/documents/{id}/events", get(documents::events))
        .route("/documents/{id}/book", get(documents::book))
        .route("/documents/{id}/dictionary", get(documents::dictionary))
        .route("/documents/{id}/progress", get(progress::get))
        .route("/documents/{id}/progress/stream", get(progress::document_stream))
        .route("/documents/{id}/artifacts", get(artifacts::list))
        .route("/documents/{id}/artifacts/{*key}", get(artifacts::download))
        .route("/search", get(documents::search))
        .route("/admin/queues", get(admin::queues))
        .route("/admin/jobs", get(admin::jobs))
        .route("/admin/jobs/{job}/retry", post(admin::retry))
        .route("/admin/projects", get(admin::projects))
        .route("/admin/providers", get(admin::providers));
    Router::new()
        .nest("/api/v1", v1)
        .route("/health", get(system::health))
        .merge(if state.options.ops_listen.is_some() { Router::new() } else { ops_only() })
        .route("/openapi.json", get(crate::openapi::json))
        .route("/docs", get(crate::openapi::page))
        .merge(crate::ui::router())
        // The last layer added is the outermost. Idempotency sits on the whole router rather than inside the nest, so
        // that it sees the full path; it only acts on POSTs under /api/v1.
        .layer(from_fn_with_state(state.clone(), crate::idempotency::layer))
        .layer(from_fn_with_state(state.clone(), limit_anonymous))
        .layer(from_fn(problems))
        // A panic in a handler is that request's 500, never the connection's or the process's.
        .layer(CatchPanicLayer::custom(|_| ApiError::Internal("a handler panicked".into()).into_response()))
        // Headers every answer carries, unless the handler set its own (the UI's pages set a stricter policy).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        // One span per request, with credentials masked in whatever the span logs; the request id ties the span, the
        // response and the client's report together.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// `/ready` and `/metrics`: on the public router, or on their own listener when `ops_listen` is set.
fn ops_only() -> Router<AppState> {
    Router::new().route("/ready", get(system::ready)).route("/metrics", get(system::metrics))
}

/// The operations listener: liveness, readiness and metrics, nothing else, with the same error contract.
pub fn ops_router(state: AppState) -> Router {
    ops_only().route("/health", get(system::health)).layer(from_fn(problems)).with_state(state)
}

/// Requests without credentials are limited per client address (the per-user limit applies to the others, once
/// they are authenticated; a failed authentication counts against the address too, see `auth::Caller`).
async fn limit_anonymous(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let anonymous = !headers.contains_key(header::AUTHORIZATION)
        && crate::auth::cookie(headers, crate::auth::ACCESS_COOKIE).is_none();
    if anonymous {
        let (parts, body) = request.into_parts();
        let client = crate::client::of(&parts, &state.options.trusted_proxies);
        if let Err(e) = state.anonymous_limiter.check(client) {
            return e.into_response();
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    next.run(request).await
}

/// Every error outside the web UI is a problem document: this turns what the router and extractors answer on their
/// own (an unknown route's empty 404, a wrong method's 405, a refusal in `text/plain`) into one, keeping the status
/// and the headers that matter (`Allow`, `Retry-After`).
async fn problems(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let ui = path == "/" || path == "/ui" || path.starts_with("/ui/");
    if ui || is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_owned());
    let detail =
        text.ok().filter(|t| !t.is_empty()).unwrap_or_else(|| status.canonical_reason().unwrap_or("error").into());
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::not_found(format!("route {method} {path}")),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or_default();
            ApiError::MethodNotAllowed(format!("{method} is not allowed on {path}; allowed: {allowed}"))
        }
        other => ApiError::rejected(other, detail),
    };
    let mut problem = error.into_response();
    *problem.status_mut() = status;
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            problem.headers_mut().insert(name, v.clone());
        }
    }
    problem
}
