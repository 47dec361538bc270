//! SSRF protection end to end: real deliveries to a receiver on loopback are
//! refused unless loopback is allowlisted, host names are judged by what they
//! resolve to, and redirects are never followed.

mod common;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, post};
use axum::Router;
use bindery_outbox::ssrf::find_ssrf_error;
use bindery_outbox::{
    parse_sink, parse_sink_with, safe_client, Allowlist, ConfigError, SsrfError, WebhookOptions, WebhookSink,
};
use common::event;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// How many requests reached `/hook`.
type Hits = Arc<AtomicUsize>;

async fn hook(State(hits): State<Hits>) -> StatusCode {
    hits.fetch_add(1, Ordering::SeqCst);
    StatusCode::NO_CONTENT
}

/// Answers with a redirect to `/hook` on the same (allowed) server, so that
/// following it would visibly succeed.
async fn redirect() -> impl IntoResponse {
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, "/hook")])
}

/// Starts the receiver on 127.0.0.1 and returns its port.
async fn start_receiver() -> (u16, Hits) {
    let hits = Hits::default();
    let app = Router::new()
        .route("/hook", any(hook))
        .route("/redirect", post(redirect))
        .route("/redirect-get", any(redirect))
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, hits)
}

fn allowing(list: &str) -> WebhookOptions {
    WebhookOptions { allow: Allowlist::parse(list).unwrap(), ..WebhookOptions::default() }
}

#[tokio::test]
async fn loopback_receivers_need_an_allowlist() {
    let (port, hits) = start_receiver().await;
    let url = format!("http://127.0.0.1:{port}/hook");

    // A literal loopback address is refused before anything is sent.
    let err = parse_sink(&url, Some(SECRET)).err().expect("a literal loopback URL is refused");
    let ConfigError::Refused(SsrfError::ForbiddenAddress { ip, kind }) = &err else { panic!("unexpected {err}") };
    assert_eq!((ip.to_string().as_str(), *kind), ("127.0.0.1", "loopback"));
    assert!(err.to_string().contains("BINDERY_WEBHOOK_ALLOW"), "{err}");

    // The same receiver reached through a name: the delivery is attempted,
    // the resolver refuses every address, and the failure is permanent.
    let sink = parse_sink(&format!("http://localhost:{port}/hook"), Some(SECRET)).unwrap();
    let err = sink.deliver(&event(1, "document.ready")).await.unwrap_err();
    assert!(!err.retryable, "an SSRF refusal does not go away by retrying: {err}");
    assert!(err.message.contains("resolves only to private or loopback addresses"), "{err}");
    assert!(err.message.contains("127.0.0.1"), "{err}");
    assert!(err.message.contains("add it to BINDERY_WEBHOOK_ALLOW to allow"), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing reached the receiver");

    // With loopback allowlisted, both spellings are delivered.
    let sink = parse_sink_with(&url, Some(SECRET), &allowing("127.0.0.1")).unwrap();
    sink.deliver(&event(1, "document.ready")).await.unwrap();
    let sink = parse_sink_with(&format!("http://localhost:{port}/hook"), Some(SECRET), &allowing("127.0.0.1")).unwrap();
    sink.deliver(&event(2, "document.ready")).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_allowlist_for_other_networks_does_not_open_loopback() {
    let (port, hits) = start_receiver().await;
    let options = allowing("10.0.0.0/8,::1");
    let err = WebhookSink::with_options(
        Url::parse(&format!("http://127.0.0.1:{port}/hook")).unwrap(),
        SECRET,
        options.clone(),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::Refused(SsrfError::ForbiddenAddress { .. })), "{err}");
    // `localhost` may resolve to ::1 too, which is allowed here; the receiver
    // only listens on 127.0.0.1, so the outcome is either a refusal or a
    // failed connection, never a delivery.
    let sink = parse_sink_with(&format!("http://localhost:{port}/hook"), Some(SECRET), &options).unwrap();
    assert!(sink.deliver(&event(1, "document.ready")).await.is_err());
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (port, hits) = start_receiver().await;
    let sink =
        parse_sink_with(&format!("http://127.0.0.1:{port}/redirect"), Some(SECRET), &allowing("127.0.0.1")).unwrap();
    let err = sink.deliver(&event(1, "document.ready")).await.unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(err.message.contains("307"), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect target was not requested");
}

#[tokio::test]
async fn the_safe_client_filters_names_and_keeps_redirects() {
    let (port, hits) = start_receiver().await;
    let client = safe_client(Allowlist::default(), Duration::from_secs(5)).unwrap();
    let err = client.get(format!("http://localhost:{port}/hook")).send().await.unwrap_err();
    let refused = find_ssrf_error(&err).unwrap_or_else(|| panic!("no SSRF error in {err:?}"));
    assert!(matches!(refused, SsrfError::ForbiddenHost { host, .. } if host == "localhost"), "{refused}");

    let client = safe_client(Allowlist::parse("127.0.0.1").unwrap(), Duration::from_secs(5)).unwrap();
    let response = client.get(format!("http://localhost:{port}/redirect-get")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect target was not requested");
}
