//! The isolation contract: a user can never read, list, download, stream the progress of, cancel or upload into
//! another project's documents, whatever ids, tokens or keys they try; roles and API keys cap what members do.

mod common;

use common::{problem, sample_book, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// Every read and write on one document, as (method, path).
fn document_routes(id: &str, artifact: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("/api/v1/documents/{id}")),
        (Method::GET, format!("/api/v1/documents/{id}/events")),
        (Method::GET, format!("/api/v1/documents/{id}/book")),
        (Method::GET, format!("/api/v1/documents/{id}/dictionary")),
        (Method::GET, format!("/api/v1/documents/{id}/progress")),
        (Method::GET, format!("/api/v1/documents/{id}/progress/stream")),
        (Method::GET, format!("/api/v1/documents/{id}/artifacts")),
        (Method::GET, format!("/api/v1/documents/{id}/artifacts/{artifact}")),
        (Method::POST, format!("/api/v1/documents/{id}/cancel")),
    ]
}

fn project_routes(project: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("/api/v1/projects/{project}")),
        (Method::GET, format!("/api/v1/projects/{project}/documents")),
        (Method::POST, format!("/api/v1/projects/{project}/documents?filename=x.txt")),
        (Method::GET, format!("/api/v1/projects/{project}/members")),
        (Method::GET, format!("/api/v1/projects/{project}/invitations")),
        (Method::DELETE, format!("/api/v1/projects/{project}/invitations/i")),
        (Method::GET, format!("/api/v1/projects/{project}/api-keys")),
        (Method::GET, format!("/api/v1/projects/{project}/usage")),
        (Method::GET, format!("/api/v1/projects/{project}/progress/stream")),
        (Method::GET, format!("/api/v1/search?q=walrus&project={project}")),
    ]
}

async fn assert_not_found(app: &TestApp, token: &str, routes: &[(Method, String)]) {
    for (method, path) in routes {
        let r = app.request(method.clone(), path, Some(token)).body(sample_book("intruder")).send().await.unwrap();
        let (status, p) = problem(r).await;
        assert_eq!((status, p["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{method} {path}");
    }
}

async fn isolation(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        eprintln!("skipping: BINDERY_TEST_DATABASE_URL is not set");
        return;
    };
    let alice = app.user("alice@example.org", false).await;
    let bob = app.user("bob@example.org", false).await;
    let pa = app.project(&alice, "Alice's").await;
    let pb = app.project(&bob, "Bob's").await;
    let doc = app.upload(&alice.access, &pa, "walrus.txt", sample_book("walrus")).await;
    app.follow(&alice.access, &doc, None).await;
    let artifacts: Value =
        app.get(&format!("/api/v1/documents/{doc}/artifacts"), &alice.access).await.json().await.unwrap();
    let key = artifacts[0]["key"].as_str().unwrap().to_owned();

    // Bob, with his own valid token, reaches nothing of Alice's: not even whether it exists.
    assert_not_found(&app, &bob.access, &document_routes(&doc, &key)).await;
    assert_not_found(&app, &bob.access, &project_routes(&pa)).await;
    let invite = json!({"email": "bob@example.org", "role": "owner"});
    let r = app.post(&format!("/api/v1/projects/{pa}/invitations"), &bob.access, invite).await;
    assert_eq!(problem(r).await.1["code"], "not_found", "nobody invites themself into another's project");
    // Bob's own project does not open Alice's document either, and his search does not find it.
    let hits: Value = app.get("/api/v1/search?q=walrus", &bob.access).await.json().await.unwrap();
    assert_eq!(hits, json!([]));
    let mine: Value = app.get(&format!("/api/v1/projects/{pb}/documents"), &bob.access).await.json().await.unwrap();
    assert_eq!(mine["items"], json!([]));
    // The same file uploaded by Bob is Bob's own, separate document.
    let bobs = app.upload(&bob.access, &pb, "walrus.txt", sample_book("walrus")).await;
    assert_ne!(bobs, doc);
    // A key of another document's blob, through Bob's own document, is refused too.
    app.follow(&bob.access, &bobs, None).await;
    let r = app.get(&format!("/api/v1/documents/{bobs}/artifacts/sha256/{}", "0".repeat(64)), &bob.access).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Roles: a viewer reads but cannot upload, cancel or manage; an editor uploads but cannot manage.
    app.join(&alice, &pa, &bob, "viewer").await;
    assert_eq!(app.get(&format!("/api/v1/documents/{doc}"), &bob.access).await.status(), StatusCode::OK);
    let forbidden = [
        (Method::POST, format!("/api/v1/projects/{pa}/documents?filename=x.txt")),
        (Method::POST, format!("/api/v1/documents/{doc}/cancel")),
        (Method::GET, format!("/api/v1/projects/{pa}/api-keys")),
    ];
    for (method, path) in &forbidden {
        let r = app.request(method.clone(), path, Some(&bob.access)).body("x").send().await.unwrap();
        assert_eq!(problem(r).await.1["code"], "forbidden", "{method} {path}");
    }
    // Removing Bob closes the door again.
    let r = app
        .request(Method::DELETE, &format!("/api/v1/projects/{pa}/members/{}", bob.user), Some(&alice.access))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_not_found(&app, &bob.access, &document_routes(&doc, &key)[..1]).await;
    // The last owner cannot be removed.
    let r = app
        .request(Method::DELETE, &format!("/api/v1/projects/{pa}/members/{}", alice.user), Some(&alice.access))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "conflict");
    // Nor demoted: a project always keeps an owner.
    let r = app
        .put(&format!("/api/v1/projects/{pa}/members"), &alice.access, json!({"email": alice.email, "role": "editor"}))
        .await;
    assert_eq!(problem(r).await.1["code"], "conflict", "the only owner cannot demote themself");

    // API keys: named, bound to one project, capped by their role, dead once revoked.
    let r = app
        .post(&format!("/api/v1/projects/{pb}/api-keys"), &bob.access, json!({"name": "  ", "role": "viewer"}))
        .await;
    assert_eq!(problem(r).await.1["code"], "unprocessable", "a key needs a name to be told apart");
    let r = app
        .post(&format!("/api/v1/projects/{pb}/api-keys"), &bob.access, json!({"name": "ci", "role": "viewer"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let k: Value = r.json().await.unwrap();
    let secret = k["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("bnd_"));
    let listed: Value = app.get(&format!("/api/v1/projects/{pb}/api-keys"), &bob.access).await.json().await.unwrap();
    assert!(listed[0].get("key").is_none(), "secrets are shown once");
    assert_eq!(app.get(&format!("/api/v1/documents/{bobs}"), &secret).await.status(), StatusCode::OK);
    assert_not_found(&app, &secret, &document_routes(&doc, &key)).await;
    let r = app
        .request(Method::POST, &format!("/api/v1/projects/{pb}/documents?filename=k.txt"), Some(&secret))
        .body(sample_book("key"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "forbidden", "a viewer key cannot upload");
    let me: Value = app.get("/api/v1/me", &secret).await.json().await.unwrap();
    assert_eq!(me["projects"].as_array().unwrap().len(), 1);
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/v1/projects/{pb}/api-keys/{}", k["id"].as_str().unwrap()),
            Some(&bob.access),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(problem(app.get("/api/v1/me", &secret).await).await.1["code"], "invalid_token");
    // Alice cannot revoke Bob's keys by guessing the project.
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/v1/projects/{pb}/api-keys/{}", k["id"].as_str().unwrap()),
            Some(&alice.access),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // An instance admin sees everything.
    let admin = app.user("root@example.org", true).await;
    assert_eq!(app.get(&format!("/api/v1/documents/{doc}"), &admin.access).await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn isolation_sqlite() {
    isolation(Backend::Sqlite).await;
}

#[tokio::test]
async fn isolation_postgres() {
    isolation(Backend::Postgres).await;
}

/// Users, keys and roles are cached per process for `principal_ttl`: a change made through one process applies there
/// at once, and reaches another process when its cache entries expire.
async fn revocation_across_processes(backend: Backend) {
    let ttl = Duration::from_millis(300);
    let Some(app) = TestApp::spawn_with(backend, |o| o.principal_ttl = ttl).await else { return };
    let (other, other_api) = app.second_api(|_| {}).await;
    let get = |base: &str, path: &str, token: &str| {
        app.http.get(format!("{base}{path}")).bearer_auth(token.to_owned()).send()
    };
    let alice = app.user("alice@example.org", false).await;
    let bob = app.user("bob@example.org", false).await;
    let project = app.project(&alice, "shared").await;
    let doc = app.upload(&alice.access, &project, "a.txt", sample_book("ttl")).await;
    app.join(&alice, &project, &bob, "viewer").await;
    let key: Value = app
        .post(&format!("/api/v1/projects/{project}/api-keys"), &alice.access, json!({"name": "k", "role": "viewer"}))
        .await
        .json()
        .await
        .unwrap();
    let secret = key["key"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/documents/{doc}");
    // Both processes answer, and now hold Bob's role and the key in their caches.
    for base in [&app.base, &other] {
        assert_eq!(get(base, &path, &bob.access).await.unwrap().status(), StatusCode::OK);
        assert_eq!(get(base, &path, &secret).await.unwrap().status(), StatusCode::OK);
    }

    // Through the first process: Bob is removed and the key revoked; that process knows at once.
    let r = app
        .request(Method::DELETE, &format!("/api/v1/projects/{project}/members/{}", bob.user), Some(&alice.access))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/v1/projects/{project}/api-keys/{}", key["id"].as_str().unwrap()),
            Some(&alice.access),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(get(&app.base, &path, &bob.access).await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(get(&app.base, &path, &secret).await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // The other process learns it once its entries expire (the deadline only guards against a hang).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let bob_status = get(&other, &path, &bob.access).await.unwrap().status();
        let key_status = get(&other, &path, &secret).await.unwrap().status();
        if bob_status == StatusCode::NOT_FOUND && key_status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {bob_status} and {key_status} long after the TTL");
        tokio::time::sleep(ttl / 4).await;
    }
    other_api.shutdown().await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn revocation_across_processes_sqlite() {
    revocation_across_processes(Backend::Sqlite).await;
}

#[tokio::test]
async fn revocation_across_processes_postgres() {
    revocation_across_processes(Backend::Postgres).await;
}
