//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations, and `/docs`, a page that
//! lists every operation. The page is rendered here from the same document, with no script or asset from elsewhere,
//! so it works on machines without internet access.

use crate::routes::{
    accounts, admin, artifacts, documents, invitations, lifecycle, progress, projects, system, usage, webhooks,
};
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Bindery API", description = "Books, documents and audio in; structured, enriched, searchable, listenable content out. \
        Authenticate with `Authorization: Bearer <access token or API key>`. Errors are RFC 9457 problem documents with a stable `code`. \
        POST requests (except uploads) accept an `Idempotency-Key` header: a repeat of the same request with the same key replays \
        the first response (`idempotent-replayed: true`) instead of running again."),
    paths(
        accounts::login, accounts::refresh, accounts::logout, accounts::me, accounts::create_user,
        projects::list, projects::create, projects::get, projects::update, projects::analyzers, projects::members, projects::set_member, projects::remove_member,
        invitations::invite, invitations::pending, invitations::revoke, invitations::mine, invitations::accept, invitations::decline,
        projects::api_keys, projects::create_api_key, projects::revoke_api_key, usage::get,
        documents::upload, documents::list, documents::get, documents::cancel, documents::events, documents::book,
        documents::dictionary, documents::search, lifecycle::delete, lifecycle::reprocess,
        progress::get, progress::document_stream, progress::project_stream,
        artifacts::list, artifacts::download,
        webhooks::list, webhooks::create, webhooks::get, webhooks::update, webhooks::delete, webhooks::rotate_secret,
        webhooks::test, webhooks::deliveries, webhooks::delivery, webhooks::retry,
        admin::queues, admin::jobs, admin::retry, admin::projects, admin::providers,
        system::health, system::ready, system::metrics,
    ),
    components(schemas(crate::error::Problem, admin::JobStateName, documents::Deadline)),
    modifiers(&Bearer, &Problems),
    tags(
        (name = "accounts", description = "Log in, tokens, users, the invitations a user answers"),
        (name = "projects", description = "Workspaces, their settings (the analyzer), members, invitations, API keys"),
        (name = "documents", description = "Upload, list, read, cancel, reprocess, delete, search"),
        (name = "progress", description = "Progress snapshots and Server-Sent Events"),
        (name = "artifacts", description = "Covers, audio, exports, with HTTP Range"),
        (name = "webhooks", description = "Signed event deliveries to a project's endpoints, with a delivery log"),
        (name = "admin", description = "Queues, dead jobs (instance administrators)"),
        (name = "system", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT or bnd_ API key").build(),
            ),
        );
    }
}

/// Declares the errors every operation can answer, all as `application/problem+json`: the router, the extractors
/// and the limits can refuse any request (a malformed parameter, an unknown id, a rate limit, a busy or failing
/// store), whatever the handler's own annotation lists. Handlers' own error responses are moved to the problem
/// media type too.
struct Problems;

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/problem+json", Content::new(Some(Ref::from_schema_name("Problem"))))
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                let responses = &mut op.responses.responses;
                for (status, response) in responses.iter_mut() {
                    if !status.starts_with('4') && !status.starts_with('5') {
                        continue;
                    }
                    if let RefOr::T(r) = response {
                        if let Some(content) = r.content.shift_remove("application/json") {
                            r.content.insert("application/problem+json".into(), content);
                        }
                    }
                }
                let mut common = vec![
                    ("400", "A malformed parameter or request"),
                    ("404", "Not found, or not visible to the caller"),
                    ("429", "Too many requests; see Retry-After"),
                    ("500", "An internal error"),
                    ("503", "The service or its database is busy or unavailable; see Retry-After"),
                ];
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    common.push(("401", "Missing, invalid or expired credentials"));
                    common.push(("403", "The caller's role does not allow this"));
                }
                if op.request_body.is_some() {
                    common.push(("413", "The body is larger than the limit"));
                    common.push(("415", "The body's content type is not the one expected"));
                    common.push(("422", "The body is well-formed but not valid"));
                }
                for (status, description) in common {
                    responses.entry(status.to_owned()).or_insert_with(|| problem(description));
                }
            }
        }
    }
}

/// The description of this instance: the analyzers a project may choose are this instance's, so they are stated as
/// an enumeration rather than any string.
pub async fn json(State(state): State<AppState>) -> impl IntoResponse {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let offered = state.options.analyzers.list();
    let mut names: Vec<serde_json::Value> = offered.into_iter().map(|a| a.name.into()).collect();
    names.push(serde_json::Value::Null);
    if let Some(analyzer) = doc.pointer_mut("/components/schemas/ProjectPatch/properties/analyzer") {
        *analyzer = serde_json::json!({
            "type": ["string", "null"],
            "enum": names,
            "description": "One of the names `GET /api/v1/analyzers` lists, or null for the instance's default.",
        });
    }
    ([(header::CONTENT_TYPE, "application/json")], doc.to_string())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Every operation, grouped by path, with its summary and parameters.
pub async fn page() -> Html<String> {
    let doc = ApiDoc::openapi();
    let mut out = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Bindery API</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}\
         code{background:#f3f3f3;padding:0 .25rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}\
         .m{display:inline-block;min-width:4.5rem;font-weight:bold;text-transform:uppercase}</style></head><body>\
         <h1>Bindery API</h1><p>The machine-readable description is <a href=\"/openapi.json\">/openapi.json</a> (OpenAPI 3.1).</p>",
    );
    if let Some(d) = &doc.info.description {
        out.push_str(&format!("<p>{}</p>", escape(d)));
    }
    for (path, item) in &doc.paths.paths {
        out.push_str(&format!("<h2><code>{}</code></h2>", escape(path)));
        let ops = [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("delete", &item.delete),
            ("patch", &item.patch),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let summary = op.summary.clone().or_else(|| op.description.clone()).unwrap_or_default();
            out.push_str(&format!("<p><span class=\"m\">{method}</span> {}</p>", escape(&summary)));
            let params: Vec<String> =
                op.parameters.iter().flatten().map(|p| format!("<code>{}</code>", escape(&p.name))).collect();
            if !params.is_empty() {
                out.push_str(&format!("<p>Parameters: {}</p>", params.join(", ")));
            }
        }
    }
    out.push_str("</body></html>");
    Html(out)
}
