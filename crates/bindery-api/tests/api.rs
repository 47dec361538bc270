//! The HTTP API end to end, through a real server and a real client: accounts and tokens, upload to ready with live
//! progress, reads with ETags and ranges, errors as problem documents, rate limits, and the isolation contract.

mod common;

use common::{problem, sample_book, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

#[tokio::test]
async fn system_endpoints_and_openapi() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let r = app.request(Method::GET, "/health", None).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r: Value = app.request(Method::GET, "/ready", None).send().await.unwrap().json().await.unwrap();
    assert_eq!((r["status"].as_str(), r["backend"].as_str()), (Some("ready"), Some("sqlite")));
    let doc: Value = app.request(Method::GET, "/openapi.json", None).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/api/v1/auth/login", "/api/v1/projects/{project}/documents", "/api/v1/documents/{id}/progress/stream"]
    {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }
    assert!(doc["paths"]["/api/v1/projects/{project}"]["patch"].is_object(), "choosing the analyzer is documented");
    assert!(doc["paths"]["/api/v1/analyzers"]["get"].is_object());
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let page = app.request(Method::GET, "/docs", None).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("/api/v1/documents/{id}/artifacts/{key}"), "the docs page lists operations");
    app.stop().await;
}

#[tokio::test]
async fn login_refresh_rotation_and_logout() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let s = app.user("Ada@Example.org", false).await;

    // Wrong password and unknown address read the same.
    for (email, password) in [("ada@example.org", "wrong password"), ("nobody@example.org", common::PASSWORD)] {
        let r = app
            .request(Method::POST, "/api/v1/auth/login", None)
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        let (status, p) = problem(r).await;
        assert_eq!((status, p["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("bad_credentials")));
    }
    let me: Value = app.get("/api/v1/me", &s.access).await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@example.org", "addresses are stored lower-cased");

    // No credential, and a forged one.
    let r = app.request(Method::GET, "/api/v1/me", None).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(problem(r).await.1["code"], "unauthenticated");
    assert_eq!(problem(app.get("/api/v1/me", "eyJhbGciOiJIUzI1NiJ9.e30.x").await).await.1["code"], "invalid_token");

    // Refresh rotates; the spent token is refused and its whole family revoked.
    let r: Value =
        app.post("/api/v1/auth/refresh", "", json!({"refresh_token": s.refresh})).await.json().await.unwrap();
    let second = r["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, s.refresh);
    assert_eq!(app.get("/api/v1/me", r["access_token"].as_str().unwrap()).await.status(), StatusCode::OK);
    let replay = app.post("/api/v1/auth/refresh", "", json!({"refresh_token": s.refresh})).await;
    assert_eq!(problem(replay).await.1["code"], "refresh_token_reused");
    let after = app.post("/api/v1/auth/refresh", "", json!({"refresh_token": second})).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "the stolen token's family is dead");

    // Logout revokes every refresh token of the user.
    let s2 = app.user("grace@example.org", false).await;
    assert_eq!(app.post("/api/v1/auth/logout", &s2.access, json!({})).await.status(), StatusCode::NO_CONTENT);
    let r = app.post("/api/v1/auth/refresh", "", json!({"refresh_token": s2.refresh})).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Only an administrator creates users.
    let r =
        app.post("/api/v1/users", &s2.access, json!({"email": "x@example.org", "password": "long enough pw"})).await;
    assert_eq!(problem(r).await.1["code"], "forbidden");
    let admin = app.user("root@example.org", true).await;
    let r =
        app.post("/api/v1/users", &admin.access, json!({"email": "x@example.org", "password": "long enough pw"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r =
        app.post("/api/v1/users", &admin.access, json!({"email": "X@example.org", "password": "long enough pw"})).await;
    assert_eq!(problem(r).await.1["code"], "conflict");
    app.stop().await;
}

async fn upload_to_ready(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        eprintln!("skipping: BINDERY_TEST_DATABASE_URL is not set");
        return;
    };
    let s = app.user("ada@example.org", false).await;
    let project = app.project(&s, "Library").await;
    let id = app.upload(&s.access, &project, "walrus.txt", sample_book("walrus")).await;

    // Live progress to the end, then resumed from the middle with Last-Event-ID.
    let messages = app.follow(&s.access, &id, None).await;
    let last = &messages.last().unwrap().1;
    assert_eq!((last["status"].as_str(), last["percent"].as_f64()), (Some("ready"), Some(100.0)), "{messages:?}");
    assert_eq!(messages[0].1["event"], "document.uploaded");
    assert!(messages.iter().any(|(_, m)| m["event"] == "stage.completed" && m["stage"] == "structure"));
    let versions: Vec<i64> = messages.iter().map(|(v, _)| v.parse().unwrap()).collect();
    assert!(versions.windows(2).all(|w| w[1] == w[0] + 1), "ids are consecutive stream versions: {versions:?}");
    let resumed = app.follow(&s.access, &id, Some(&versions[3].to_string())).await;
    assert_eq!(resumed.len(), messages.len() - 4);
    assert_eq!(resumed[0].0, versions[4].to_string());

    // The document, with an ETag that answers 304 while nothing changes.
    let r = app.get(&format!("/api/v1/documents/{id}"), &s.access).await;
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let doc: Value = r.json().await.unwrap();
    assert_eq!((doc["status"].as_str(), doc["project"].as_str()), (Some("ready"), Some(project.as_str())));
    let r = app
        .request(Method::GET, &format!("/api/v1/documents/{id}"), Some(&s.access))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    let list: Value = app.get(&format!("/api/v1/projects/{project}/documents"), &s.access).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    let events: Value = app.get(&format!("/api/v1/documents/{id}/events"), &s.access).await.json().await.unwrap();
    assert_eq!(events[0]["type"], "document.uploaded");
    assert_eq!(events[0]["specversion"], "1.0");
    let book: Value = app.get(&format!("/api/v1/documents/{id}/book"), &s.access).await.json().await.unwrap();
    assert_eq!(book["chapters"].as_array().unwrap().len(), 2, "{book}");

    // An artifact in full and by range.
    let artifacts: Value = app.get(&format!("/api/v1/documents/{id}/artifacts"), &s.access).await.json().await.unwrap();
    let cover = artifacts.as_array().unwrap().iter().find(|a| a["media_type"] == "image/jpeg").expect("a JPEG cover");
    let url = cover["url"].as_str().unwrap();
    let full = app.get(url, &s.access).await;
    assert_eq!(full.headers()["content-length"], cover["bytes"].to_string().as_str());
    assert_eq!(full.headers()["content-type"], "image/jpeg");
    let full = full.bytes().await.unwrap();
    let part = app.request(Method::GET, url, Some(&s.access)).header("Range", "bytes=2-11").send().await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.headers()["content-range"], format!("bytes 2-11/{}", full.len()).as_str());
    assert_eq!(part.bytes().await.unwrap(), full.slice(2..12));
    let beyond =
        app.request(Method::GET, url, Some(&s.access)).header("Range", "bytes=99999999-").send().await.unwrap();
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // Search and the dictionary.
    let hits: Value = app.get("/api/v1/search?q=walrus", &s.access).await.json().await.unwrap();
    assert_eq!(hits[0]["document"], id.as_str(), "{hits}");
    assert!(hits[0]["snippet"].as_str().unwrap().contains("[[walrus]]"));
    let words: Value =
        app.get(&format!("/api/v1/documents/{id}/dictionary?limit=3"), &s.access).await.json().await.unwrap();
    let lemma = words[0]["lemma"].as_str().expect("the book has a vocabulary").to_owned();
    let one: Value =
        app.get(&format!("/api/v1/documents/{id}/dictionary?word={lemma}"), &s.access).await.json().await.unwrap();
    assert_eq!(one.as_array().map(Vec::len), Some(1));
    assert_eq!(one[0]["lemma"], lemma.as_str());

    // The same bytes again: the same document, nothing runs twice. Multipart takes several files.
    let r = app
        .request(Method::POST, &format!("/api/v1/projects/{project}/documents?filename=again.txt"), Some(&s.access))
        .body(sample_book("walrus"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r: Value = r.json().await.unwrap();
    assert_eq!(
        (r["documents"][0]["id"].as_str(), r["documents"][0]["created"].as_bool()),
        (Some(id.as_str()), Some(false))
    );
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(sample_book("oak")).file_name("oak.txt"))
        .part("file", reqwest::multipart::Part::bytes(sample_book("elm")).file_name("../../elm.txt"));
    let r = app
        .request(Method::POST, &format!("/api/v1/projects/{project}/documents"), Some(&s.access))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r: Value = r.json().await.unwrap();
    let names: Vec<&str> = r["documents"].as_array().unwrap().iter().map(|d| d["source"].as_str().unwrap()).collect();
    assert_eq!(names, ["oak.txt", "elm.txt"], "client paths are reduced to a file name");
    app.stop().await;
}

#[tokio::test]
async fn upload_to_ready_sqlite() {
    upload_to_ready(Backend::Sqlite).await;
}

#[tokio::test]
async fn upload_to_ready_postgres() {
    upload_to_ready(Backend::Postgres).await;
}

#[tokio::test]
async fn project_progress_stream_carries_only_its_own_documents() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let s = app.user("ada@example.org", false).await;
    let (mine, other) = (app.project(&s, "Mine").await, app.project(&s, "Other").await);
    let path = format!("/api/v1/projects/{mine}/progress/stream");
    // Every message carries the document's current state, so the end is recognised by its event, not its status.
    let listen = app.sse(&s.access, &path, None, |m| m["event"] == "document.ready");
    let uploads = async {
        // The other project's book goes first, so its events come before ours in the log.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let theirs = app.upload(&s.access, &other, "elm.txt", sample_book("elm")).await;
        app.follow(&s.access, &theirs, None).await;
        app.upload(&s.access, &mine, "oak.txt", sample_book("oak")).await
    };
    let (messages, id) = tokio::join!(listen, uploads);
    assert!(messages.iter().all(|(_, m)| m["document"] == id.as_str()), "only this project's document: {messages:?}");
    assert_eq!(messages[0].1["event"], "document.uploaded");
    let sequences: Vec<i64> = messages.iter().map(|(seq, _)| seq.parse().unwrap()).collect();
    assert!(sequences.windows(2).all(|w| w[0] < w[1]), "ids are increasing log sequences: {sequences:?}");
    // Resuming after the first message replays the rest of them.
    let resumed = app.sse(&s.access, &path, Some(&sequences[0].to_string()), |m| m["event"] == "document.ready").await;
    assert_eq!(
        resumed.iter().map(|(seq, _)| seq.clone()).collect::<Vec<_>>(),
        messages[1..].iter().map(|(seq, _)| seq.clone()).collect::<Vec<_>>()
    );
    app.stop().await;
}

#[tokio::test]
async fn uploads_above_the_limit_are_refused_and_leave_nothing() {
    let app = TestApp::spawn_with(Backend::Sqlite, |o| o.max_upload_bytes = 1000).await.unwrap();
    let s = app.user("ada@example.org", false).await;
    let project = app.project(&s, "Small").await;
    let path = format!("/api/v1/projects/{project}/documents?filename=big.txt");
    // Declared too large: refused before reading.
    let r = app.request(Method::POST, &path, Some(&s.access)).body(vec![b'a'; 5000]).send().await.unwrap();
    assert_eq!(problem(r).await.1["code"], "payload_too_large");
    // Streamed without a length: refused while streaming.
    let chunks = futures::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![b'b'; 400])));
    let r = app
        .request(Method::POST, &path, Some(&s.access))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "payload_too_large");
    let list: Value = app.get(&format!("/api/v1/projects/{project}/documents"), &s.access).await.json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    let blobs = app.state.engine.blobs().list_keys("").await.unwrap();
    assert!(blobs.is_empty(), "no partial upload is left behind: {blobs:?}");
    app.stop().await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let app = TestApp::spawn_with(Backend::Sqlite, |o| o.rate_per_second = 1).await.unwrap();
    let s = app.user("ada@example.org", false).await;
    let statuses: Vec<StatusCode> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(app.get("/api/v1/me", &s.access).await.status());
        }
        v
    };
    assert_eq!(statuses[..2], [StatusCode::OK, StatusCode::OK], "a burst of twice the rate passes");
    let r = app.get("/api/v1/me", &s.access).await;
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(problem(r).await.1["code"], "rate_limited");
    // Another user has their own budget.
    let other = app.user("grace@example.org", false).await;
    assert_eq!(app.get("/api/v1/me", &other.access).await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn admin_endpoints_need_an_instance_admin() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let user = app.user("ada@example.org", false).await;
    let admin = app.user("root@example.org", true).await;
    for path in ["/api/v1/admin/queues", "/api/v1/admin/jobs?state=dead", "/api/v1/admin/projects"] {
        assert_eq!(problem(app.get(path, &user.access).await).await.1["code"], "forbidden", "{path}");
        assert_eq!(app.get(path, &admin.access).await.status(), StatusCode::OK, "{path}");
    }
    let r = app.get("/api/v1/admin/jobs?state=sleeping", &admin.access).await;
    assert_eq!(problem(r).await.1["code"], "bad_request");
    app.stop().await;
}

/// Many clients on one project's stream all receive every event of its documents, in order, once: live through the
/// shared tail, and again from the store for a client that connects afterwards with `Last-Event-ID`.
async fn fan_out(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let s = app.user("fan@example.org", false).await;
    let project = app.project(&s, "Fan-out").await;
    let start = app.state.store().head().await.unwrap().to_string();
    let path = format!("/api/v1/projects/{project}/progress/stream");
    // Each client reads until it has seen both documents become ready, the last event of either.
    let follow = || async {
        let ready = AtomicUsize::new(0);
        let both_ready = |m: &Value| m["event"] == "document.ready" && ready.fetch_add(1, Ordering::SeqCst) == 1;
        let messages = app.sse(&s.access, &path, Some(&start), both_ready).await;
        messages.into_iter().map(|(id, _)| id).collect::<Vec<_>>()
    };
    let uploads = async {
        let a = app.upload(&s.access, &project, "a.txt", sample_book("oak")).await;
        (a, app.upload(&s.access, &project, "b.txt", sample_book("elm")).await)
    };
    let (clients, (a, b)) = tokio::join!(futures::future::join_all((0..24).map(|_| follow())), uploads);
    let expected: Vec<String> = app
        .state
        .store()
        .read_all(start.parse().unwrap(), 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.stream == a || e.stream == b)
        .map(|e| e.sequence.to_string())
        .collect();
    assert!(expected.len() > 10, "{expected:?}");
    for got in clients {
        assert_eq!(got, expected, "every client sees every event once, in log order");
    }
    assert_eq!(follow().await, expected, "a client that connects later reads the same events from the store");
    app.stop().await;
}

#[tokio::test]
async fn fan_out_sqlite() {
    fan_out(Backend::Sqlite).await;
}

#[tokio::test]
async fn fan_out_postgres() {
    fan_out(Backend::Postgres).await;
}
