//! The web UI: server-rendered pages over the same data and the same authorisation as the API.
//!
//! Why server-rendered: the API already decides what a caller may see (`Caller::require`,
//! `routes::documents::authorize`), so every page is built by calling the API's own handlers or the same store reads
//! behind the same checks; the UI cannot show what the API would refuse. Templates are compiled (askama), assets
//! are embedded in the binary (`include_str!`), and no page loads anything from another origin, so `bindery serve`
//! is the whole web application, with no Node build and nothing to fetch from the internet.
//!
//! Layout:
//! - `session`: the login form, cookies (access, refresh, CSRF), transparent refresh and logout;
//! - `pages`: projects, a project's library and upload, a book (with cancel), search;
//! - `settings`: a project's analyzer, members and API keys (owners);
//! - `webhooks`: a project's webhook endpoints and their delivery log;
//! - `admin`: queues, running and dead jobs, and every project's webhooks at a glance (instance administrators);
//! - this module: the router, the assets, the shared page frame and the friendly error page.
//!
//! A little JavaScript (`assets/app.js`) does what HTML cannot: uploads with a progress bar per file, live
//! progress from the project's Server-Sent Events stream, and a confirmation before destructive forms. Everything
//! else works without it.

mod admin;
mod pages;
pub mod session;
mod settings;
mod webhooks;

use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::AppState;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Every path of the UI: `/` and `/ui/...`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/projects") }))
        .route("/ui", get(|| async { Redirect::to("/ui/projects") }))
        .route("/ui/login", get(session::login_page).post(session::login))
        .route(session::REFRESH_ROUTE, get(session::refresh_redirect).post(session::refresh))
        .route(session::LOGOUT_ROUTE, post(session::logout))
        .route("/ui/projects", get(pages::projects).post(pages::create_project))
        .route("/ui/projects/{project}", get(pages::library))
        .route("/ui/projects/{project}/settings", get(settings::show))
        .route("/ui/projects/{project}/analyzer", post(settings::choose_analyzer))
        .route("/ui/projects/{project}/invitations", post(settings::invite))
        .route("/ui/projects/{project}/invitations/{invitation}/revoke", post(settings::revoke_invitation))
        .route("/ui/invitations/{invitation}/accept", post(pages::accept_invitation))
        .route("/ui/invitations/{invitation}/decline", post(pages::decline_invitation))
        .route("/ui/projects/{project}/members/{user}/role", post(settings::change_role))
        .route("/ui/projects/{project}/members/{user}/remove", post(settings::remove_member))
        .route("/ui/projects/{project}/api-keys", post(settings::create_key))
        .route("/ui/projects/{project}/api-keys/{key}/revoke", post(settings::revoke_key))
        .route("/ui/projects/{project}/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/ui/projects/{project}/webhooks/{id}", get(webhooks::endpoint))
        .route("/ui/projects/{project}/webhooks/{id}/enable", post(webhooks::enable))
        .route("/ui/projects/{project}/webhooks/{id}/disable", post(webhooks::disable))
        .route("/ui/projects/{project}/webhooks/{id}/test", post(webhooks::test))
        .route("/ui/projects/{project}/webhooks/{id}/rotate-secret", post(webhooks::rotate_secret))
        .route("/ui/projects/{project}/webhooks/{id}/delete", post(webhooks::delete))
        .route("/ui/projects/{project}/webhooks/{id}/deliveries/{delivery}/retry", post(webhooks::retry))
        .route("/ui/books/{id}", get(pages::book))
        .route("/ui/books/{id}/cancel", post(pages::cancel))
        .route("/ui/search", get(pages::search))
        .route("/ui/admin", get(admin::show))
        .route("/ui/admin/jobs/{job}/retry", post(admin::retry_job))
        .route("/ui/assets/{name}", get(asset))
        .route("/ui/{*rest}", get(|| async { UiError::from(ApiError::not_found("page")) }))
}

/// An embedded asset: its bytes, media type, and a short content hash that versions its URL.
struct Asset {
    body: &'static [u8],
    media_type: &'static str,
    version: LazyLock<String>,
}

macro_rules! asset {
    ($file:literal, $media_type:literal) => {
        Asset {
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $file)),
            media_type: $media_type,
            version: LazyLock::new(|| {
                hex::encode(
                    &Sha256::digest(include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $file)))[..6],
                )
            }),
        }
    };
}

static CSS: Asset = asset!("app.css", "text/css; charset=utf-8");
static JS: Asset = asset!("app.js", "text/javascript; charset=utf-8");
static ICON: Asset = asset!("icon.svg", "image/svg+xml");

fn asset_named(name: &str) -> Option<&'static Asset> {
    match name {
        "app.css" => Some(&CSS),
        "app.js" => Some(&JS),
        "icon.svg" => Some(&ICON),
        _ => None,
    }
}

/// The versioned URL of an asset, for templates: `/ui/assets/app.css?v=…`.
pub(crate) fn asset_url(name: &str) -> String {
    let version = asset_named(name).map(|a| a.version.as_str()).unwrap_or("0");
    format!("/ui/assets/{name}?v={version}")
}

/// Serves an asset. A request for the current version is cached for a year (the URL changes with the content);
/// anything else must revalidate.
async fn asset(Path(name): Path<String>, Query(q): Query<std::collections::HashMap<String, String>>) -> Response {
    let Some(asset) = asset_named(&name) else { return UiError::from(ApiError::not_found("asset")).into_response() };
    let cache = if q.get("v").is_some_and(|v| *v == *asset.version) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let etag = format!("\"{}\"", *asset.version);
    (
        [
            (header::CONTENT_TYPE, asset.media_type),
            (header::CACHE_CONTROL, cache),
            (header::ETAG, etag.as_str()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response()
}

/// What the frame of every signed-in page needs: who is signed in, and the CSRF token for its forms and scripts.
pub(crate) struct Frame {
    pub email: String,
    pub admin: bool,
    pub csrf: String,
    /// Which navigation entry is the current page (`projects`, `search`, `admin`).
    pub current: &'static str,
}

impl Frame {
    /// The frame of a page for `session`, with `current` as the highlighted navigation entry.
    pub fn of(session: &session::Session, current: &'static str) -> Frame {
        Frame {
            email: session.caller.user.email.clone(),
            admin: session.caller.require_admin().is_ok(),
            csrf: session.csrf.clone(),
            current,
        }
    }

    pub fn css(&self) -> String {
        asset_url("app.css")
    }

    pub fn js(&self) -> String {
        asset_url("app.js")
    }

    pub fn icon(&self) -> String {
        asset_url("icon.svg")
    }

    /// `aria-current="page"` for the navigation entry of the current page.
    pub fn is(&self, entry: &str) -> bool {
        self.current == entry
    }
}

/// The policy every UI page is served with: nothing from elsewhere, no inline script or style, no framing.
const CSP: &str = "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// Renders a template as an HTML page with the UI's security headers. Pages are per user and never stored: after
/// signing out, Back must not show the library from the cache.
pub(crate) fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
            response
        }
        Err(e) => {
            tracing::error!(cause = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Html(FALLBACK)).into_response()
        }
    }
}

/// The error page when even the error template cannot be rendered.
const FALLBACK: &str = "<!doctype html><html lang=\"en\"><title>Error</title><main><h1>Something went wrong</h1>\
                        <p><a href=\"/ui/projects\">Back to your projects</a></p></main></html>";

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    heading: &'static str,
    message: String,
    css: String,
}

/// Why a page could not be shown: the caller must sign in (again), or an API error, shown as a friendly page.
#[derive(Debug)]
pub enum UiError {
    /// No valid access cookie: try the refresh token, then the login form, and come back to `next`.
    SignIn {
        next: String,
    },
    Api(ApiError),
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::Api(e)
    }
}

impl From<bindery_store::StoreError> for UiError {
    fn from(e: bindery_store::StoreError) -> Self {
        UiError::Api(e.into())
    }
}

pub type UiResult<T> = Result<T, UiError>;

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let error = match self {
            UiError::SignIn { next } => return session::sign_in_redirect(&next),
            UiError::Api(e) => e,
        };
        let (_, status) = error.code_and_status();
        let (heading, message) = match &error {
            ApiError::NotFound(_) => ("Not found", "There is nothing here, or it is not shared with you.".to_owned()),
            ApiError::Forbidden(_) => ("Not allowed", "Your account may not do this.".to_owned()),
            ApiError::Csrf => {
                ("Form expired", "The form was out of date. Go back, reload the page and try again.".into())
            }
            ApiError::RateLimited(_) => ("Slow down", format!("{error}.")),
            ApiError::Internal(cause) => {
                // The cause goes to the log; the page says only that something failed.
                tracing::error!(cause, "page failed");
                ("Something went wrong", "The server could not show this page. Try again in a moment.".to_owned())
            }
            ApiError::Unavailable(_) => {
                ("Unavailable", "The service is busy or starting. Try again in a moment.".to_owned())
            }
            _ => ("Cannot do that", error.to_string()),
        };
        let mut response =
            page(status, &ErrorPage { status: status.as_u16(), heading, message, css: asset_url("app.css") });
        if let ApiError::RateLimited(wait) = &error {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        }
        response
    }
}

/// Percent-encodes a string for a URL query value.
pub(crate) fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A time for people, in UTC to the minute: `2025-03-01 14:05 UTC`. Pages are rendered on the server, which does
/// not know the reader's time zone, so they say which one they use.
pub(crate) fn when(ms: i64) -> String {
    let t = bindery_core::time::rfc3339(ms);
    match t.get(..16) {
        Some(minute) => format!("{} UTC", minute.replacen('T', " ", 1)),
        None => t,
    }
}

/// Bytes for people: `812 B`, `4.2 KB`, `1.5 MB`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_queries() {
        assert_eq!(human_bytes(812), "812 B");
        assert_eq!(human_bytes(4_200), "4.2 KB");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
        assert_eq!(encode_query("/ui/search?q=a b&x"), "/ui/search%3Fq%3Da%20b%26x");
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_740_837_900_123), "2025-03-01 14:05 UTC");
    }

    #[test]
    fn assets_are_versioned_by_content() {
        let url = asset_url("app.css");
        assert!(url.starts_with("/ui/assets/app.css?v=") && url.len() == "/ui/assets/app.css?v=".len() + 12, "{url}");
        assert_ne!(asset_url("app.css"), asset_url("app.js").replace("app.js", "app.css"));
    }
}
