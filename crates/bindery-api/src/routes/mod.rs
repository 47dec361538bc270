//! The route table: every path of the API, in one place.

pub mod accounts;
pub mod admin;
pub mod artifacts;
pub mod documents;
pub mod lifecycle;
pub mod limit;
pub mod progress;
pub mod projects;
pub mod system;
pub mod usage;
mod webhook_checks;
pub mod webhooks;

use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;

pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/auth/login", post(accounts::login))
        .route("/auth/refresh", post(accounts::refresh))
        .route("/auth/logout", post(accounts::logout))
        .route("/me", get(accounts::me))
        .route("/users", post(accounts::create_user))
        .route("/projects", get(projects::list).post(projects::create))
        .route("/projects/{project}", get(projects::get).patch(projects::update))
        .route("/analyzers", get(projects::analyzers))
        .route("/projects/{project}/members", get(projects::members).put(projects::set_member))
        .route("/projects/{project}/members/{user}", delete(projects::remove_member))
        .route("/projects/{project}/api-keys", get(projects::api_keys).post(projects::create_api_key))
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
        .route("/projects/{project}/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/projects/{project}/webhooks/{id}", get(webhooks::get).patch(webhooks::update).delete(webhooks::delete))
        .route("/projects/{project}/webhooks/{id}/rotate-secret", post(webhooks::rotate_secret))
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
        .route("/ready", get(system::ready))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(crate::openapi::json))
        .route("/docs", get(crate::openapi::page))
        .merge(crate::ui::router())
        // Outermost on every route, so that it sees the full path; it only acts on POSTs under /api/v1.
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::idempotency::layer))
        .with_state(state)
}
