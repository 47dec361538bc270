//! Delivers events to a real local HTTP server that checks signatures the
//! way a receiver would, and checks how failures are classified.
//!
//! The receiver listens on loopback, which webhooks may only reach when the
//! operator allowlists it, so every sink here allows `127.0.0.1`.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use bindery_core::event::CloudEvent;
use bindery_outbox::{parse_sink_with, verify, Allowlist, SignatureHeaders, Sink, WebhookOptions, WebhookSink};
use common::event;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Options that let deliveries reach the local receiver.
fn local() -> WebhookOptions {
    WebhookOptions { allow: Allowlist::parse("127.0.0.1").unwrap(), ..WebhookOptions::default() }
}

/// A sink for `spec` that may reach loopback.
fn local_sink(spec: &str, secret: &str) -> Box<dyn Sink> {
    parse_sink_with(spec, Some(secret), &local()).unwrap()
}

/// What the receiver saw for one accepted request.
#[derive(Debug, Clone)]
struct Received {
    webhook_id: String,
    content_type: String,
    body: Vec<u8>,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// Accepts only correctly signed, fresh requests, like a real receiver.
async fn hook(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let checked = SignatureHeaders::from_header_map(&headers).and_then(|h| verify(SECRET, &h, &body, now, 300));
    if let Err(e) = checked {
        eprintln!("receiver rejected a request: {e}");
        return StatusCode::UNAUTHORIZED;
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    log.lock().unwrap().push(Received {
        webhook_id: text("webhook-id"),
        content_type: text("content-type"),
        body: body.to_vec(),
    });
    StatusCode::NO_CONTENT
}

async fn busy() -> impl IntoResponse {
    (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "7")], "try later")
}

async fn throttled() -> StatusCode {
    StatusCode::TOO_MANY_REQUESTS
}

async fn bad() -> StatusCode {
    StatusCode::BAD_REQUEST
}

async fn slow() -> StatusCode {
    tokio::time::sleep(Duration::from_secs(5)).await;
    StatusCode::NO_CONTENT
}

/// Starts the receiver on an ephemeral port and returns its base URL.
async fn start_server() -> (String, Log) {
    let log = Log::default();
    let app = Router::new()
        .route("/hook", post(hook))
        .route("/busy", post(busy))
        .route("/throttled", post(throttled))
        .route("/bad", post(bad))
        .route("/slow", post(slow))
        .with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), log)
}

#[tokio::test]
async fn delivers_signed_events_in_order() {
    let (base, log) = start_server().await;
    let sink = local_sink(&format!("{base}/hook"), SECRET);
    let events = [event(1, "document.uploaded"), event(2, "stage.completed"), event(3, "document.ready")];
    for e in &events {
        sink.deliver(e).await.unwrap();
    }
    let received = log.lock().unwrap().clone();
    assert_eq!(received.len(), 3);
    for (got, sent) in received.iter().zip(&events) {
        assert_eq!(got.webhook_id, sent.id);
        assert_eq!(got.content_type, "application/json");
        let decoded: CloudEvent = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(&decoded, sent);
    }
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_receiver() {
    let (base, log) = start_server().await;
    let sink = local_sink(&format!("{base}/hook"), "some other secret");
    let err = sink.deliver(&event(1, "document.ready")).await.unwrap_err();
    assert!(!err.retryable, "401 is not worth retrying: {err}");
    assert!(log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unavailable_is_retryable_and_honours_retry_after() {
    let (base, _) = start_server().await;
    let sink = local_sink(&format!("{base}/busy"), SECRET);
    let err = sink.deliver(&event(1, "document.ready")).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
    assert!(err.message.contains("503"), "{err}");
}

#[tokio::test]
async fn throttling_is_retryable_without_a_delay_hint() {
    let (base, _) = start_server().await;
    let sink = local_sink(&format!("{base}/throttled"), SECRET);
    let err = sink.deliver(&event(1, "document.ready")).await.unwrap_err();
    assert!(err.retryable, "{err}");
    assert_eq!(err.retry_after, None);
}

#[tokio::test]
async fn bad_request_is_not_retryable() {
    let (base, _) = start_server().await;
    let sink = local_sink(&format!("{base}/bad"), SECRET);
    let err = sink.deliver(&event(1, "document.ready")).await.unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(err.message.contains("400"), "{err}");
}

#[tokio::test]
async fn timeouts_are_retryable() {
    let (base, _) = start_server().await;
    let url = Url::parse(&format!("{base}/slow")).unwrap();
    let sink = WebhookSink::with_options(url, SECRET, local()).unwrap().with_timeout(Duration::from_millis(200));
    let err = sink.deliver(&event(1, "document.ready")).await.unwrap_err();
    assert!(err.retryable, "{err}");
}

#[tokio::test]
async fn refused_connections_are_retryable() {
    // Bind and release a port so that nothing is listening on it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sink = local_sink(&format!("http://127.0.0.1:{port}/hook"), SECRET);
    let err = sink.deliver(&event(1, "document.ready")).await.unwrap_err();
    assert!(err.retryable, "{err}");
}
