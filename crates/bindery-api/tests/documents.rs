//! A document's lifecycle through the HTTP API: delete (then every read is `not_found`, and nothing is left in
//! lists, search or storage), reprocess (the same id reaches `ready` again), and `Idempotency-Key` replay on POSTs.

mod common;

use common::{problem, sample_book, Backend, Session, TestApp};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

on_both!(
    delete_makes_the_document_not_found_everywhere,
    reprocess_reaches_ready_again_with_the_same_id,
    idempotency_keys_replay_refuse_and_conflict,
);

/// An owner with a ready document in their project, and a viewer of that project.
async fn ready_document(app: &TestApp, seed: &str) -> (Session, Session, String, String) {
    let owner = app.user(&format!("owner-{seed}@example.org"), false).await;
    let viewer = app.user(&format!("viewer-{seed}@example.org"), false).await;
    let project = app.project(&owner, seed).await;
    app.join(&owner, &project, &viewer, "viewer").await;
    let id = app.upload(&owner.access, &project, &format!("{seed}.txt"), sample_book(seed)).await;
    let last = app.follow(&owner.access, &id, None).await.pop().unwrap().1;
    assert_eq!(last["status"], "ready", "{last}");
    (owner, viewer, project, id)
}

async fn send(app: &TestApp, method: Method, path: &str, token: &str) -> Response {
    app.request(method, path, Some(token)).send().await.unwrap()
}

async fn code(r: Response) -> (StatusCode, String) {
    let (status, p) = problem(r).await;
    (status, p["code"].as_str().unwrap_or_default().to_owned())
}

async fn delete_makes_the_document_not_found_everywhere(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (owner, viewer, project, id) = ready_document(&app, "walrus").await;
    let intruder = app.user("intruder@example.org", false).await;
    let artifacts: Value =
        app.get(&format!("/api/v1/documents/{id}/artifacts"), &owner.access).await.json().await.unwrap();
    let key = artifacts[0]["key"].as_str().unwrap().to_owned();
    let doc: Value = app.get(&format!("/api/v1/documents/{id}"), &owner.access).await.json().await.unwrap();
    let original = doc["blob_key"].as_str().unwrap().to_owned();
    let search = format!("/api/v1/search?q=walrus&project={project}");
    let hits: Value = app.get(&search, &owner.access).await.json().await.unwrap();
    assert!(!hits.as_array().unwrap().is_empty());

    // A non-member learns nothing and deletes nothing; a viewer may not delete.
    let path = format!("/api/v1/documents/{id}");
    assert_eq!(
        code(send(&app, Method::DELETE, &path, &intruder.access).await).await,
        (StatusCode::NOT_FOUND, "not_found".into())
    );
    assert_eq!(
        code(send(&app, Method::DELETE, &path, &viewer.access).await).await,
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    let still: Value = app.get(&path, &owner.access).await.json().await.unwrap();
    assert_eq!(still["status"], "ready");
    assert!(app.state.engine.blobs().head(&original).await.unwrap().is_some());

    let r = send(&app, Method::DELETE, &path, &owner.access).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let body: Value = r.json().await.unwrap();
    assert_eq!((body["id"].as_str(), body["status"].as_str()), (Some(id.as_str()), Some("deleting")));
    // A second DELETE is harmless: accepted while the deletion runs, not found once it is done.
    let again = send(&app, Method::DELETE, &path, &owner.access).await.status();
    assert!(again == StatusCode::ACCEPTED || again == StatusCode::NOT_FOUND, "{again}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while app.get(&path, &owner.access).await.status() != StatusCode::NOT_FOUND {
        assert!(tokio::time::Instant::now() < deadline, "the deletion finishes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for p in [
        format!("/api/v1/documents/{id}"),
        format!("/api/v1/documents/{id}/events"),
        format!("/api/v1/documents/{id}/book"),
        format!("/api/v1/documents/{id}/dictionary"),
        format!("/api/v1/documents/{id}/progress"),
        format!("/api/v1/documents/{id}/progress/stream"),
        format!("/api/v1/documents/{id}/artifacts"),
        format!("/api/v1/documents/{id}/artifacts/{key}"),
    ] {
        assert_eq!(code(app.get(&p, &owner.access).await).await, (StatusCode::NOT_FOUND, "not_found".into()), "{p}");
    }
    let r = send(&app, Method::POST, &format!("/api/v1/documents/{id}/reprocess"), &owner.access).await;
    assert_eq!(code(r).await.0, StatusCode::NOT_FOUND);
    let list: Value =
        app.get(&format!("/api/v1/projects/{project}/documents"), &owner.access).await.json().await.unwrap();
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    let hits: Value = app.get(&search, &owner.access).await.json().await.unwrap();
    assert!(hits.as_array().unwrap().is_empty(), "{hits}");
    let blobs = app.state.engine.blobs();
    assert!(blobs.head(&original).await.unwrap().is_none() && blobs.head(&key).await.unwrap().is_none());
    // The log keeps the history (the API hides it).
    let types: Vec<String> =
        app.state.store().read_stream(&id, 0, 1000).await.unwrap().into_iter().map(|e| e.ty).collect();
    assert_eq!(types.last().map(String::as_str), Some("document.deleted"));
    app.stop().await;
}

async fn reprocess_reaches_ready_again_with_the_same_id(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (owner, viewer, _project, id) = ready_document(&app, "heron").await;
    let intruder = app.user("intruder@example.org", false).await;
    let path = format!("/api/v1/documents/{id}/reprocess");
    assert_eq!(code(send(&app, Method::POST, &path, &intruder.access).await).await.0, StatusCode::NOT_FOUND);
    assert_eq!(code(send(&app, Method::POST, &path, &viewer.access).await).await.0, StatusCode::FORBIDDEN);

    let r = send(&app, Method::POST, &path, &owner.access).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let started: Value = r.json().await.unwrap();
    assert_eq!((started["id"].as_str(), started["status"].as_str()), (Some(id.as_str()), Some("processing")));
    let run = started["run"].as_i64().unwrap();
    assert!(run > 1);
    let busy = send(&app, Method::POST, &path, &owner.access).await;
    assert_eq!(code(busy).await, (StatusCode::CONFLICT, "conflict".into()), "not while processing");

    // The progress stream follows the new run to `ready`.
    let messages = app.follow(&owner.access, &id, Some(&(run - 1).to_string())).await;
    assert_eq!(messages[0].1["event"], "document.reprocessing");
    let last = &messages.last().unwrap().1;
    assert_eq!((last["event"].as_str(), last["status"].as_str()), (Some("document.ready"), Some("ready")), "{last}");
    let doc: Value = app.get(&format!("/api/v1/documents/{id}"), &owner.access).await.json().await.unwrap();
    assert_eq!(
        (doc["id"].as_str(), doc["status"].as_str(), doc["run"].as_i64()),
        (Some(id.as_str()), Some("ready"), Some(run))
    );
    let events: Value =
        app.get(&format!("/api/v1/documents/{id}/events?limit=1000"), &owner.access).await.json().await.unwrap();
    let readies = events.as_array().unwrap().iter().filter(|e| e["type"] == "document.ready").count();
    assert_eq!(readies, 2);
    app.stop().await;
}

/// A raw JSON POST with an Idempotency-Key.
async fn post_keyed(app: &TestApp, path: &str, token: &str, key: &str, body: &'static str) -> Response {
    app.request(Method::POST, path, Some(token))
        .header("idempotency-key", format!("\"{key}\""))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn idempotency_keys_replay_refuse_and_conflict(b: Backend) {
    // One request per second with a burst of two: the layer and the handler together must count a request once.
    let Some(app) = TestApp::spawn_with(b, |o| o.rate_per_second = 1).await else { return };
    let s = app.user("ada@example.org", false).await;
    let first = post_keyed(&app, "/api/v1/projects", &s.access, "k-1", r#"{"name":"Books"}"#).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let created: Value = first.json().await.unwrap();
    let replay = post_keyed(&app, "/api/v1/projects", &s.access, "k-1", r#"{"name":"Books"}"#).await;
    assert_eq!(replay.status(), StatusCode::CREATED, "the first answer, replayed (and not rate limited)");
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.headers()["content-type"], "application/json");
    assert_eq!(replay.json::<Value>().await.unwrap(), created);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let projects: Value = app.get("/api/v1/projects", &s.access).await.json().await.unwrap();
    assert_eq!(projects.as_array().unwrap().len(), 1, "created once: {projects}");

    // The same key with another request is refused; another principal's same key is another record.
    let other = post_keyed(&app, "/api/v1/projects", &s.access, "k-1", r#"{"name":"Other"}"#).await;
    assert_eq!(code(other).await, (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable".into()));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let grace = app.user("grace@example.org", false).await;
    let theirs = post_keyed(&app, "/api/v1/projects", &grace.access, "k-1", r#"{"name":"Books"}"#).await;
    assert_eq!(theirs.status(), StatusCode::CREATED);
    assert!(theirs.headers().get("idempotent-replayed").is_none());

    // A repeat while the first request is still in flight (its record claimed, no response yet) is a conflict.
    let body = r#"{"name":"Slow"}"#;
    let uri: axum::http::Uri = "/api/v1/projects".parse().unwrap();
    let fp = bindery_api::idempotency::fingerprint(&axum::http::Method::POST, &uri, &body.into());
    let now = bindery_core::time::now_ms();
    let store = app.state.store();
    let claim = store.claim_idempotency_key(&format!("user:{}", s.user), "k-2", &fp, now, 0, 0).await.unwrap();
    assert_eq!(claim, bindery_store::IdempotencyClaim::Claimed);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let busy = post_keyed(&app, "/api/v1/projects", &s.access, "k-2", body).await;
    assert_eq!(code(busy).await, (StatusCode::CONFLICT, "conflict".into()));
    store.release_idempotency_key(&format!("user:{}", s.user), "k-2").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let done = post_keyed(&app, "/api/v1/projects", &s.access, "k-2", body).await;
    assert_eq!(done.status(), StatusCode::CREATED, "released (as after a 5xx): the retry runs");

    // A bad key is a bad request; without credentials the key is ignored and the handler refuses.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r =
        app.request(Method::POST, "/api/v1/projects", Some(&s.access)).header("idempotency-key", "a b").send().await;
    assert_eq!(code(r.unwrap()).await.1, "bad_request");
    let r = app
        .request(Method::POST, "/api/v1/projects", None)
        .header("idempotency-key", "k-3")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await.1, "unauthenticated");
    app.stop().await;
}
