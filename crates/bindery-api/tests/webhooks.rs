//! Webhook endpoints per project, end to end: the real API, a real dispatcher and a real receiver on loopback that
//! checks every Standard Webhooks signature with the endpoint's secret, deduplicates on `webhook-id`, and can be
//! told to answer 500, 429 or 410 to its next requests.

mod common;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use bindery_core::event::DOCUMENT_UPLOADED;
use bindery_core::retry::RetryPolicy;
use bindery_core::time::now_ms;
use bindery_core::{Expected, NewEvent};
use bindery_engine::webhooks::{Dispatcher, DispatcherHandle, DispatcherOptions, FANOUT_CURSOR};
use bindery_outbox::{Allowlist, SignatureHeaders, WebhookOptions};
use bindery_store::{Append, Commit, NewDelivery, NextStep};
use common::{problem, sample_book, Backend, Session, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------------------------
// The receiver.

/// One request the receiver accepted or refused.
#[derive(Clone, Debug)]
struct Received {
    hook: String,
    id: String,
    ty: String,
    status: u16,
}

#[derive(Default)]
struct Inbox {
    secrets: HashMap<String, String>,
    /// Statuses to answer the next requests of each hook with (then 204).
    script: HashMap<String, VecDeque<u16>>,
    log: Vec<Received>,
    bad_signatures: usize,
}

#[derive(Clone, Default)]
struct Receiver {
    base: String,
    inbox: Arc<Mutex<Inbox>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let inbox: Arc<Mutex<Inbox>> = Arc::default();
        let app = axum::Router::new().route("/hooks/{hook}", axum::routing::post(receive)).with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { base, inbox }
    }

    fn url(&self, hook: &str) -> String {
        format!("{}/hooks/{hook}", self.base)
    }

    fn set_secret(&self, hook: &str, secret: &str) {
        self.inbox.lock().unwrap().secrets.insert(hook.into(), secret.into());
    }

    fn answer_next(&self, hook: &str, statuses: &[u16]) {
        self.inbox.lock().unwrap().script.entry(hook.into()).or_default().extend(statuses);
    }

    fn heal(&self, hook: &str) {
        self.inbox.lock().unwrap().script.remove(hook);
    }

    /// Every request of `hook`, accepted or not.
    fn requests(&self, hook: &str) -> Vec<Received> {
        self.inbox.lock().unwrap().log.iter().filter(|r| r.hook == hook).cloned().collect()
    }

    /// The events `hook` accepted, once each (deduplicated on `webhook-id`), in order of first receipt.
    fn accepted(&self, hook: &str) -> Vec<Received> {
        let mut seen = HashSet::new();
        self.requests(hook).into_iter().filter(|r| r.status < 300 && seen.insert(r.id.clone())).collect()
    }

    fn bad_signatures(&self) -> usize {
        self.inbox.lock().unwrap().bad_signatures
    }
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    Path(hook): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let mut inbox = inbox.lock().unwrap();
    let secret = inbox.secrets.get(&hook).cloned().unwrap_or_default();
    let verified = SignatureHeaders::from_header_map(&headers)
        .and_then(|h| bindery_outbox::verify(&secret, &h, &body, now_ms() / 1000, 300).map(|_| h.id.to_owned()));
    let Ok(id) = verified else {
        inbox.bad_signatures += 1;
        return AxumStatus::UNAUTHORIZED.into_response();
    };
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["id"], id.as_str(), "webhook-id is the CloudEvent id");
    let status = inbox.script.get_mut(&hook).and_then(VecDeque::pop_front).unwrap_or(204);
    let ty = event["type"].as_str().unwrap_or_default().to_owned();
    inbox.log.push(Received { hook, id, ty, status });
    let mut response = AxumStatus::from_u16(status).unwrap().into_response();
    if status == 429 {
        response.headers_mut().insert("retry-after", "1".parse().unwrap());
    }
    response
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers.

fn loopback() -> Allowlist {
    Allowlist::parse("127.0.0.1").unwrap()
}

async fn spawn(backend: Backend) -> Option<TestApp> {
    TestApp::spawn_with(backend, |o| o.webhook_allow = loopback()).await
}

/// Short backoff and polling, so that retries happen within a test.
fn fast() -> DispatcherOptions {
    DispatcherOptions {
        webhook: WebhookOptions { allow: loopback(), timeout: Duration::from_secs(5) },
        retry: RetryPolicy { base: Duration::from_millis(100), max: Duration::from_millis(400), jitter: 0.0 },
        poll: Duration::from_millis(50),
        lease: Duration::from_secs(5),
        ..DispatcherOptions::default()
    }
}

fn dispatcher(app: &TestApp, opts: DispatcherOptions) -> DispatcherHandle {
    Dispatcher::new(app.state.engine.clone(), opts).run()
}

/// Registers an endpoint for `hook` on the receiver; returns its id and tells the receiver its secret.
async fn endpoint(app: &TestApp, s: &Session, project: &str, rx: &Receiver, hook: &str, types: Value) -> String {
    let body = json!({"url": rx.url(hook), "description": hook, "event_types": types});
    let r = app.post(&format!("/api/v1/projects/{project}/webhooks"), &s.access, body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let e: Value = r.json().await.unwrap();
    let secret = e["secret"].as_str().expect("the secret comes with the creation");
    assert!(secret.starts_with("whsec_"), "{secret}");
    rx.set_secret(hook, secret);
    e["id"].as_str().unwrap().to_owned()
}

/// Appends a `document.uploaded` event for a new document of `project` (no pipeline runs); returns the event id.
async fn emit(app: &TestApp, project: &str) -> String {
    let doc = uuid::Uuid::new_v4().simple().to_string();
    let data = json!({"document": doc, "source": "a.txt", "bytes": 3, "media_type": "text/plain",
        "blob_key": "sha256/x", "pipeline": "none", "pipeline_version": 1, "stages": [], "project": project});
    let append =
        Append { stream: doc, expected: Expected::NoStream, events: vec![NewEvent::new(DOCUMENT_UPLOADED, data)] };
    let out = app.state.store().commit(Commit { appends: vec![append], ..Default::default() }, now_ms()).await.unwrap();
    out.events[0].id.clone()
}

/// Polls `check` until it returns `Some`, for at most two minutes.
async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn json_of(app: &TestApp, path: &str, token: &str) -> Value {
    let r = app.get(path, token).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.json().await.unwrap()
}

// ---------------------------------------------------------------------------------------------------------------
// Tests.

/// An upload's events reach the endpoint through to `document.ready`, signed, each once after deduplication; a
/// filtered endpoint gets only its type.
async fn upload_events_reach_the_endpoint(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let rx = Receiver::start().await;
    let s = app.user("ada@example.org", false).await;
    let project = app.project(&s, "Reading app").await;
    let all = endpoint(&app, &s, &project, &rx, "all", json!([])).await;
    let ready = endpoint(&app, &s, &project, &rx, "ready", json!(["document.ready"])).await;
    endpoint(&app, &s, &project, &rx, "stages", json!(["stage.*"])).await;
    let d = dispatcher(&app, fast());

    let doc = app.upload(&s.access, &project, "walrus.txt", sample_book("walrus")).await;
    app.follow(&s.access, &doc, None).await;
    let events = json_of(&app, &format!("/api/v1/documents/{doc}/events?limit=1000"), &s.access).await;
    let ids: HashSet<String> = events.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().into()).collect();
    eventually("every event at the endpoint", || async { (rx.accepted("all").len() >= ids.len()).then_some(()) }).await;
    eventually("document.ready at the filtered endpoint", || async {
        (!rx.accepted("ready").is_empty()).then_some(())
    })
    .await;
    eventually("stage events", || async { (!rx.accepted("stages").is_empty()).then_some(()) }).await;

    let got = rx.accepted("all");
    assert_eq!(got.iter().map(|r| r.id.clone()).collect::<HashSet<_>>(), ids, "each event, once");
    assert_eq!(got.len(), ids.len());
    assert!(got.iter().any(|r| r.ty == "document.ready") && got.iter().any(|r| r.ty == "document.uploaded"));
    assert!(rx.accepted("ready").iter().all(|r| r.ty == "document.ready"));
    assert!(rx.accepted("stages").iter().all(|r| r.ty.starts_with("stage.")));
    assert_eq!(rx.bad_signatures(), 0, "every request is signed with the endpoint's secret");

    // The delivery log: every delivery delivered at the first attempt, with the endpoint's status code. The
    // receiver has each request before the dispatcher records the answer, so the log may lag it a little.
    let log_path = format!("/api/v1/projects/{project}/webhooks/{all}/deliveries?limit=200");
    let items = eventually("every delivery recorded as delivered", || async {
        let log = json_of(&app, &log_path, &s.access).await;
        let items = log["items"].as_array().unwrap().clone();
        items.iter().all(|i| i["state"] == "delivered").then_some(items)
    })
    .await;
    assert_eq!(items.len(), ids.len());
    assert!(items.iter().all(|i| i["attempts"] == 1 && i["last_status_code"] == 204), "{items:?}");
    assert!(items.iter().all(|i| i["event_id"].is_string() && i["next_attempt_ms"].is_null()));
    let filtered = json_of(&app, &format!("/api/v1/projects/{project}/webhooks/{ready}/deliveries"), &s.access).await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1, "{filtered}");
    let first = filtered["items"][0]["id"].as_i64().unwrap();
    let detail_path = format!("/api/v1/projects/{project}/webhooks/{ready}/deliveries/{first}");
    let detail = eventually("the filtered delivery's attempt recorded", || async {
        let detail = json_of(&app, &detail_path, &s.access).await;
        (!detail["attempts"].as_array().unwrap().is_empty()).then_some(detail)
    })
    .await;
    assert_eq!(detail["payload"]["type"], "document.ready");
    assert_eq!(detail["payload"]["subject"], doc.as_str());
    assert_eq!(detail["attempts"][0]["status_code"], 204);

    // Lists and reads never show the secret.
    let listed = json_of(&app, &format!("/api/v1/projects/{project}/webhooks"), &s.access).await;
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert!(!listed.to_string().contains("whsec_"), "{listed}");
    d.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn upload_events_reach_the_endpoint_sqlite() {
    upload_events_reach_the_endpoint(Backend::Sqlite).await;
}

#[tokio::test]
async fn upload_events_reach_the_endpoint_postgres() {
    upload_events_reach_the_endpoint(Backend::Postgres).await;
}

/// Test deliveries answer synchronously and land in the delivery log; rotating the secret takes effect at once;
/// editors read, only owners act; viewers see nothing.
#[tokio::test]
async fn test_deliveries_log_and_roles() {
    let app = spawn(Backend::Sqlite).await.unwrap();
    let rx = Receiver::start().await;
    let owner = app.user("owner@example.org", false).await;
    let editor = app.user("editor@example.org", false).await;
    let viewer = app.user("viewer@example.org", false).await;
    let project = app.project(&owner, "Pdf service").await;
    for (who, role) in [(&editor, "editor"), (&viewer, "viewer")] {
        app.join(&owner, &project, who, role).await;
    }
    let id = endpoint(&app, &owner, &project, &rx, "t", json!([])).await;
    let base = format!("/api/v1/projects/{project}/webhooks/{id}");

    rx.answer_next("t", &[410]);
    let r: Value = app.post(&format!("{base}/test"), &owner.access, json!({})).await.json().await.unwrap();
    assert_eq!((r["delivered"].as_bool(), r["status_code"].as_i64()), (Some(false), Some(410)), "{r}");
    assert!(r["error"].as_str().unwrap().contains("410"), "{r}");
    let r: Value = app.post(&format!("{base}/test"), &owner.access, json!({})).await.json().await.unwrap();
    assert_eq!((r["delivered"].as_bool(), r["status_code"].as_i64()), (Some(true), Some(204)), "{r}");
    assert_eq!(rx.accepted("t")[0].ty, "webhook.test");

    // Rotation: the receiver still has the old secret, so the next test is refused; with the new one it passes.
    let rotated: Value =
        app.post(&format!("{base}/rotate-secret"), &owner.access, json!({})).await.json().await.unwrap();
    let secret = rotated["secret"].as_str().unwrap();
    let r: Value = app.post(&format!("{base}/test"), &owner.access, json!({})).await.json().await.unwrap();
    assert_eq!(r["status_code"], 401, "signed with the new secret: {r}");
    rx.set_secret("t", secret);
    let r: Value = app.post(&format!("{base}/test"), &owner.access, json!({})).await.json().await.unwrap();
    assert_eq!(r["delivered"], true);

    // The log, newest first, in pages, with each attempt's status.
    let page = json_of(&app, &format!("{base}/deliveries?limit=3"), &editor.access).await;
    let states: Vec<(&str, i64)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["state"].as_str().unwrap(), i["last_status_code"].as_i64().unwrap()))
        .collect();
    assert_eq!(states, [("delivered", 204), ("failed", 401), ("delivered", 204)]);
    let next = page["next"].as_str().unwrap();
    let rest = json_of(&app, &format!("{base}/deliveries?limit=3&after={next}"), &editor.access).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next"], Value::Null);
    let first = rest["items"][0]["id"].as_i64().unwrap();
    let detail = json_of(&app, &format!("{base}/deliveries/{first}"), &editor.access).await;
    assert_eq!(detail["payload"]["type"], "webhook.test");
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(detail["attempts"][0]["status_code"], 410);
    let e = json_of(&app, &base, &editor.access).await;
    assert_eq!((e["failure_streak"].as_i64(), e["enabled"].as_bool()), (Some(0), Some(true)), "tests do not count");
    assert!(e.get("secret").is_none());

    // Editors read but do not act; viewers see no webhooks; both get `forbidden`, being members.
    for (method, path) in [
        (Method::POST, format!("/api/v1/projects/{project}/webhooks")),
        (Method::PATCH, base.clone()),
        (Method::DELETE, base.clone()),
        (Method::POST, format!("{base}/rotate-secret")),
        (Method::POST, format!("{base}/test")),
        (Method::POST, format!("{base}/deliveries/{first}/retry")),
    ] {
        let r = app.request(method.clone(), &path, Some(&editor.access)).json(&json!({"url": "https://example.com/"}));
        assert_eq!(problem(r.send().await.unwrap()).await.1["code"], "forbidden", "{method} {path}");
    }
    for path in [format!("/api/v1/projects/{project}/webhooks"), base.clone(), format!("{base}/deliveries")] {
        assert_eq!(problem(app.get(&path, &viewer.access).await).await.1["code"], "forbidden", "{path}");
    }

    // Owners change and delete.
    let r = app
        .request(Method::PATCH, &base, Some(&owner.access))
        .json(&json!({"description": "changed", "event_types": ["document.*"]}))
        .send()
        .await
        .unwrap();
    let e: Value = r.json().await.unwrap();
    assert_eq!((e["description"].as_str(), e["event_types"].clone()), (Some("changed"), json!(["document.*"])));
    let r = app.request(Method::DELETE, &base, Some(&owner.access)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(problem(app.get(&base, &owner.access).await).await.1["code"], "not_found");
    app.stop().await;
}

/// A failing endpoint is retried with backoff (honouring `Retry-After`) until it answers.
async fn retries_back_off_then_succeed(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let rx = Receiver::start().await;
    let s = app.user("ada@example.org", false).await;
    let project = app.project(&s, "Flaky").await;
    let id = endpoint(&app, &s, &project, &rx, "flaky", json!([])).await;
    rx.answer_next("flaky", &[500, 429, 500]);
    let d = dispatcher(&app, fast());
    let event = emit(&app, &project).await;
    eventually("the delivery", || async { (!rx.accepted("flaky").is_empty()).then_some(()) }).await;

    let tries = rx.requests("flaky");
    assert!(tries.iter().all(|r| r.id == event), "the same webhook-id every time");
    assert_eq!(tries.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 429, 500, 204]);
    let base = format!("/api/v1/projects/{project}/webhooks/{id}");
    // The receiver has the last request before the dispatcher records its answer.
    let log = eventually("the delivery recorded as delivered", || async {
        let log = json_of(&app, &format!("{base}/deliveries"), &s.access).await;
        (log["items"][0]["state"] == "delivered").then_some(log)
    })
    .await;
    assert_eq!(log["items"][0]["attempts"].as_i64(), Some(4));
    let detail = json_of(&app, &format!("{base}/deliveries/{}", log["items"][0]["id"]), &s.access).await;
    let attempts = detail["attempts"].as_array().unwrap();
    let codes: Vec<i64> = attempts.iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [500, 429, 500, 204]);
    let times: Vec<i64> = attempts.iter().map(|a| a["time_ms"].as_i64().unwrap()).collect();
    assert!(times[1] - times[0] >= 100, "backoff after the first failure: {times:?}");
    assert!(times[2] - times[1] >= 1000, "Retry-After: 1 is honoured: {times:?}");
    assert!(times[3] - times[2] >= 400, "backoff grows (capped at 400 ms): {times:?}");
    assert_eq!(json_of(&app, &base, &s.access).await["failure_streak"], 0, "a success resets the streak");
    d.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn retries_back_off_then_succeed_sqlite() {
    retries_back_off_then_succeed(Backend::Sqlite).await;
}

#[tokio::test]
async fn retries_back_off_then_succeed_postgres() {
    retries_back_off_then_succeed(Backend::Postgres).await;
}

/// Failures in a row disable the endpoint; its deliveries wait, and re-enabling delivers them all.
async fn disabled_endpoints_resume_with_nothing_lost(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let rx = Receiver::start().await;
    let s = app.user("ada@example.org", false).await;
    let project = app.project(&s, "Outage").await;
    let id = endpoint(&app, &s, &project, &rx, "down", json!([])).await;
    let base = format!("/api/v1/projects/{project}/webhooks/{id}");
    rx.answer_next("down", &[503; 100]);
    let d = dispatcher(&app, DispatcherOptions { disable_after: 3, max_attempts: 100, ..fast() });
    let events = [emit(&app, &project).await, emit(&app, &project).await];

    let e = eventually("the endpoint disabled", || async {
        let e = json_of(&app, &base, &s.access).await;
        (e["enabled"] == false).then_some(e)
    })
    .await;
    let reason = e["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("3 failed attempts in a row") && reason.contains("503"), "{reason}");
    // While disabled, nothing is sent (once the attempts in flight when it was disabled are over), and nothing
    // is lost: both deliveries wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let attempts_when_disabled = rx.requests("down").len();
    assert!(attempts_when_disabled >= 3, "{attempts_when_disabled}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(rx.requests("down").len(), attempts_when_disabled, "a disabled endpoint gets no requests");
    let log = json_of(&app, &format!("{base}/deliveries"), &s.access).await;
    assert!(log["items"].as_array().unwrap().iter().all(|i| i["state"] == "pending"), "{log}");

    // The receiver is fixed; an owner re-enables the endpoint.
    rx.heal("down");
    let r = app.request(Method::PATCH, &base, Some(&s.access)).json(&json!({"enabled": true})).send().await.unwrap();
    let e: Value = r.json().await.unwrap();
    assert_eq!((e["enabled"].as_bool(), e["failure_streak"].as_i64()), (Some(true), Some(0)));
    assert_eq!(e["disabled_reason"], Value::Null);
    eventually("both events", || async { (rx.accepted("down").len() == 2).then_some(()) }).await;
    let got: HashSet<String> = rx.accepted("down").into_iter().map(|r| r.id).collect();
    assert_eq!(got, events.into_iter().collect::<HashSet<_>>());
    d.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn disabled_endpoints_resume_with_nothing_lost_sqlite() {
    disabled_endpoints_resume_with_nothing_lost(Backend::Sqlite).await;
}

#[tokio::test]
async fn disabled_endpoints_resume_with_nothing_lost_postgres() {
    disabled_endpoints_resume_with_nothing_lost(Backend::Postgres).await;
}

/// A delivery whose sender died mid-flight (it posted, then never recorded) is delivered again when its lease
/// ends; the receiver's deduplication on `webhook-id` makes it one event, and the dead sender's late report is
/// refused.
async fn a_delivery_killed_in_flight_is_delivered_again(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let rx = Receiver::start().await;
    let s = app.user("ada@example.org", false).await;
    let project = app.project(&s, "Crash").await;
    let id = endpoint(&app, &s, &project, &rx, "crash", json!([])).await;
    let event = emit(&app, &project).await;
    let store = app.state.store().clone();

    // The process that dies: it fans the event out, claims the delivery for one second, posts it, and is gone.
    let payload = store.read_all(0, 100).await.unwrap().into_iter().find(|e| e.id == event).unwrap().to_cloud_event();
    let row = NewDelivery {
        endpoint: id.clone(),
        event_id: event.clone(),
        event_type: payload.ty.clone(),
        payload: serde_json::to_value(&payload).unwrap(),
        next_attempt_ms: now_ms(),
    };
    assert_eq!(store.enqueue_deliveries(&[row], now_ms()).await.unwrap(), 1);
    let now = now_ms();
    let claim = store.claim_deliveries(10, now + 1000, now).await.unwrap().remove(0);
    let sink = bindery_outbox::WebhookSink::with_options(
        claim.url.parse().unwrap(),
        &claim.secret,
        WebhookOptions { allow: loopback(), ..WebhookOptions::default() },
    )
    .unwrap();
    assert_eq!(sink.post(&payload).await.unwrap(), 204);

    // A live dispatcher fans out the same event (nothing new) and, once the lease is over, delivers it again.
    let d = dispatcher(&app, fast());
    eventually("the redelivery", || async { (rx.requests("crash").len() == 2).then_some(()) }).await;
    assert_eq!(rx.accepted("crash").len(), 1, "one event after deduplication");
    // The receiver answers before the dispatcher records the attempt: wait for the record, not only the request.
    let path = format!("/api/v1/projects/{project}/webhooks/{id}/deliveries");
    let log = eventually("the redelivery's record", || async {
        let log = json_of(&app, &path, &s.access).await;
        (log["items"][0]["state"] == "delivered").then_some(log)
    })
    .await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "fanning out again added nothing: {log}");
    assert_eq!((log["items"][0]["state"].as_str(), log["items"][0]["attempts"].as_i64()), (Some("delivered"), Some(1)));
    let late = bindery_store::AttemptReport {
        delivery: claim.delivery.id,
        lease_until: claim.lease_until,
        time_ms: now,
        status_code: Some(204),
        error: None,
        duration_ms: 1,
        next: NextStep::Delivered,
        disable_after: Some(20),
    };
    assert!(!store.record_attempt(&late, now_ms()).await.unwrap().recorded, "the dead sender's report is refused");
    let fanned = eventually("the fan-out to catch up", || async {
        let head = store.head().await.unwrap();
        (store.cursor(FANOUT_CURSOR).await.unwrap() >= head).then_some(head)
    })
    .await;
    assert!(fanned > 0);
    d.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn a_delivery_killed_in_flight_is_delivered_again_sqlite() {
    a_delivery_killed_in_flight_is_delivered_again(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_delivery_killed_in_flight_is_delivered_again_postgres() {
    a_delivery_killed_in_flight_is_delivered_again(Backend::Postgres).await;
}

/// Internal addresses, other schemes and credentials are refused when an endpoint is set, with a clear message.
#[tokio::test]
async fn internal_urls_are_refused_without_the_allowlist() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let s = app.user("ada@example.org", false).await;
    let project = app.project(&s, "Strict").await;
    let path = format!("/api/v1/projects/{project}/webhooks");
    for (url, says) in [
        ("http://127.0.0.1:9/hook", "loopback address; add it to BINDERY_WEBHOOK_ALLOW"),
        ("http://10.0.0.5/hook", "private address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://localhost:9/hook", "resolves only to private or loopback addresses"),
        ("ftp://example.com/hook", "http or https"),
        ("https://user:secret@example.com/hook", "user name or password"),
        ("example.com/hook", "is not a URL"),
    ] {
        let (status, p) = problem(app.post(&path, &s.access, json!({"url": url})).await).await;
        assert_eq!((status, p["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unprocessable")), "{url}");
        assert!(p["detail"].as_str().unwrap().contains(says), "{url}: {p}");
    }
    let (_, p) =
        problem(app.post(&path, &s.access, json!({"url": "https://example.com/", "event_types": ["a b"]})).await).await;
    assert_eq!(p["code"], "unprocessable");
    assert!(app.get(&path, &s.access).await.json::<Value>().await.unwrap().as_array().unwrap().is_empty());

    // The same URL passes where the operator allowlisted the address, and a change to an internal one is refused.
    let open = spawn(Backend::Sqlite).await.unwrap();
    let s = open.user("ada@example.org", false).await;
    let project = open.project(&s, "Local").await;
    let r = open
        .post(&format!("/api/v1/projects/{project}/webhooks"), &s.access, json!({"url": "http://127.0.0.1:9/hook"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = open
        .request(Method::PATCH, &format!("/api/v1/projects/{project}/webhooks/{id}"), Some(&s.access))
        .json(&json!({"url": "http://192.168.1.1/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "unprocessable");
    app.stop().await;
    open.stop().await;
}

/// Another project's member reaches nothing of a project's webhooks: `not_found`, as if nothing existed.
async fn other_projects_get_not_found(backend: Backend) {
    let Some(app) = spawn(backend).await else { return };
    let rx = Receiver::start().await;
    let alice = app.user("alice@example.org", false).await;
    let bob = app.user("bob@example.org", false).await;
    let pa = app.project(&alice, "Alice's").await;
    let pb = app.project(&bob, "Bob's").await;
    let id = endpoint(&app, &alice, &pa, &rx, "alice", json!([])).await;
    let base = format!("/api/v1/projects/{pa}/webhooks/{id}");
    let t: Value = app.post(&format!("{base}/test"), &alice.access, json!({})).await.json().await.unwrap();
    let delivery = t["delivery"].as_i64().unwrap();

    let routes = |project: &str| {
        let base = format!("/api/v1/projects/{project}/webhooks/{id}");
        vec![
            (Method::GET, format!("/api/v1/projects/{project}/webhooks")),
            (Method::POST, format!("/api/v1/projects/{project}/webhooks")),
            (Method::GET, base.clone()),
            (Method::PATCH, base.clone()),
            (Method::DELETE, base.clone()),
            (Method::POST, format!("{base}/rotate-secret")),
            (Method::POST, format!("{base}/test")),
            (Method::GET, format!("{base}/deliveries")),
            (Method::GET, format!("{base}/deliveries/{delivery}")),
            (Method::POST, format!("{base}/deliveries/{delivery}/retry")),
        ]
    };
    for (method, path) in routes(&pa) {
        let r = app.request(method.clone(), &path, Some(&bob.access)).json(&json!({"url": "https://example.com/"}));
        let (status, p) = problem(r.send().await.unwrap()).await;
        assert_eq!((status, p["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{method} {path}");
    }
    // Through his own project, Alice's endpoint id names nothing either (the list and create are his own).
    for (method, path) in routes(&pb).into_iter().skip(2) {
        let r = app.request(method.clone(), &path, Some(&bob.access)).json(&json!({"enabled": false}));
        let (status, p) = problem(r.send().await.unwrap()).await;
        assert_eq!((status, p["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{method} {path}");
    }
    // Nothing changed for Alice.
    let e = json_of(&app, &base, &alice.access).await;
    assert_eq!(e["enabled"], true);
    assert_eq!(rx.requests("alice").len(), 1, "Bob's test requests sent nothing");
    app.stop().await;
}

#[tokio::test]
async fn other_projects_get_not_found_sqlite() {
    other_projects_get_not_found(Backend::Sqlite).await;
}

#[tokio::test]
async fn other_projects_get_not_found_postgres() {
    other_projects_get_not_found(Backend::Postgres).await;
}

/// An owner's retry sends a failed delivery again.
#[tokio::test]
async fn failed_deliveries_can_be_retried() {
    let app = spawn(Backend::Sqlite).await.unwrap();
    let rx = Receiver::start().await;
    let s = app.user("ada@example.org", false).await;
    let project = app.project(&s, "Gone").await;
    let id = endpoint(&app, &s, &project, &rx, "gone", json!(["document.uploaded"])).await;
    rx.answer_next("gone", &[410]);
    let d = dispatcher(&app, fast());
    emit(&app, &project).await;
    let base = format!("/api/v1/projects/{project}/webhooks/{id}");
    let failed = eventually("a failed delivery", || async {
        let log = json_of(&app, &format!("{base}/deliveries"), &s.access).await;
        (log["items"][0]["state"] == "failed").then(|| log["items"][0].clone())
    })
    .await;
    assert_eq!(
        (failed["attempts"].as_i64(), failed["last_status_code"].as_i64()),
        (Some(1), Some(410)),
        "410 is final"
    );
    let r = app.post(&format!("{base}/deliveries/{}/retry", failed["id"]), &s.access, json!({})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    eventually("the retried delivery", || async { (!rx.accepted("gone").is_empty()).then_some(()) }).await;
    let one = eventually("the log to say delivered", || async {
        let one = json_of(&app, &format!("{base}/deliveries/{}", failed["id"]), &s.access).await;
        (one["delivery"]["state"] == "delivered").then_some(one)
    })
    .await;
    let codes: Vec<i64> =
        one["attempts"].as_array().unwrap().iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [410, 204]);
    let r = app.post(&format!("{base}/deliveries/999999/retry"), &s.access, json!({})).await;
    assert_eq!(problem(r).await.1["code"], "not_found");
    d.shutdown().await;
    app.stop().await;
}
