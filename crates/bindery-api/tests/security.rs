//! The attacks of the outside review, each run against a real server: account lock-out and password spraying,
//! streams that outlive access, secrets kept by the idempotency store, the error contract, open redirects and the
//! HTTP details. Each test failed before its fix. (The login flood's memory is measured on the real binary, in
//! `crates/bindery/tests/serve_cli.rs`.)

mod common;

use common::{problem, sample_book, Backend, TestApp, PASSWORD};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// An app that believes `X-Forwarded-For` from loopback, so that one test can speak from many client addresses.
async fn behind_a_proxy(backend: Backend, tweak: impl FnOnce(&mut bindery_api::ApiOptions)) -> Option<TestApp> {
    TestApp::spawn_with(backend, |o| {
        o.trusted_proxies = bindery_outbox::Allowlist::parse("127.0.0.1").unwrap();
        tweak(o);
    })
    .await
}

async fn login_from(app: &TestApp, client: &str, email: &str, password: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/auth/login", None)
        .header("x-forwarded-for", client)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Wrong logins from `client` (account `account(i)` for the i-th) until one is refused: how many failed first, and
/// how long that took. Panics if none is refused within `most`.
async fn failures_until_refused(
    app: &TestApp,
    client: &str,
    account: impl Fn(usize) -> String,
    most: usize,
) -> (usize, Duration) {
    let started = std::time::Instant::now();
    for i in 0..most {
        let r = login_from(app, client, &account(i), "Summer2026!").await;
        match r.status() {
            StatusCode::UNAUTHORIZED => continue,
            StatusCode::TOO_MANY_REQUESTS => return (i, started.elapsed()),
            other => panic!("attempt {i}: {other}"),
        }
    }
    panic!("no refusal after {most} failures from {client}");
}

/// How many more failures a throttle that forgives one every `every_secs` lets through in `elapsed`.
fn allowance(elapsed: Duration, every_secs: u64) -> usize {
    (elapsed.as_secs() / every_secs) as usize + 1
}

#[tokio::test]
async fn an_attacker_cannot_lock_a_user_out_nor_spray_guesses() {
    let app = behind_a_proxy(Backend::Sqlite, |_| {}).await.unwrap();
    let victim = app.user("victim@example.org", false).await;
    let attacker = "198.51.100.1";
    // Guessing the victim's password from one address: ten failures a minute, then refused before any hashing.
    // One failure is forgiven every 6 s, so a slow machine may see one more pass for each 6 s the loop takes.
    let (failed, elapsed) = failures_until_refused(&app, attacker, |_| victim.email.clone(), 30).await;
    assert!(failed >= 10 && failed <= 10 + allowance(elapsed, 6), "refused after {failed} failures in {elapsed:?}");
    let r = login_from(&app, attacker, &victim.email, "not the password").await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(problem(r).await.1["code"], "rate_limited");
    // Even the right password is refused from the address that was guessing this account.
    assert_eq!(login_from(&app, attacker, &victim.email, PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
    // The victim, elsewhere, is not locked out, and their own successes are never counted: fifteen in a row pass.
    for _ in 0..15 {
        assert_eq!(login_from(&app, "203.0.113.7", &victim.email, PASSWORD).await.status(), StatusCode::OK);
    }
    // Spraying one guess at many accounts from one address stops at the address's limit (30 a minute, one forgiven
    // every 2 s).
    let (failed, elapsed) = failures_until_refused(&app, "198.51.100.2", |i| format!("user{i}@example.org"), 80).await;
    assert!(failed >= 30 && failed <= 30 + allowance(elapsed, 2), "refused after {failed} failures in {elapsed:?}");
    app.stop().await;
}

#[tokio::test]
async fn anonymous_requests_and_wrong_credentials_are_limited_per_client_address() {
    let app = behind_a_proxy(Backend::Sqlite, |o| o.rate_per_second = 1).await.unwrap();
    let from = |client: &'static str, token: Option<&'static str>| {
        let mut r = app.request(Method::GET, "/api/v1/me", token).header("x-forwarded-for", client);
        if token.is_none() {
            r = app.request(Method::GET, "/health", None).header("x-forwarded-for", client);
        }
        r
    };
    // A burst of two, then refused, per address: anonymous requests and requests with a wrong token alike.
    for (client, token) in [("198.51.100.20", None), ("198.51.100.21", Some("bnd_guess"))] {
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(from(client, token).send().await.unwrap().status().as_u16());
        }
        assert_eq!(statuses[2], 429, "{client}: {statuses:?}");
    }
    // Another address is unaffected.
    assert_eq!(from("198.51.100.22", None).send().await.unwrap().status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn oversized_credentials_are_refused_before_any_work() {
    let app = behind_a_proxy(Backend::Sqlite, |_| {}).await.unwrap();
    // A 1 MiB e-mail address is refused by the body limit of the sign-in routes.
    let big = "a".repeat(1 << 20);
    let r = login_from(&app, "198.51.100.3", &format!("{big}@example.org"), "x").await;
    // The rest of the body is never read, so the answer says the connection closes: a client must not reuse it.
    assert_eq!(r.headers().get("connection").map(|v| v.as_bytes()), Some(&b"close"[..]));
    let (status, body) = problem(r).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")));
    // Just under the body limit, but over what an address or a password may be: refused as wrong, without hashing,
    // and not remembered by any limiter under its own name.
    let r = login_from(&app, "198.51.100.3", &format!("{}@example.org", "a".repeat(300)), "x").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = login_from(&app, "198.51.100.3", "a@example.org", &"p".repeat(5000)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Accounts need a real address and a real password.
    let admin = app.user("admin@example.org", true).await;
    for (email, password) in [("@", "a long passphrase"), ("x@example.org", "          "), ("y@example.org", "short")] {
        let r = app.post("/api/v1/users", &admin.access, json!({"email": email, "password": password})).await;
        assert_eq!(problem(r).await.1["code"], "unprocessable", "{email:?} {password:?}");
    }
    app.stop().await;
}

/// Reads an SSE response until it ends; `None` if it is still open after `within`.
async fn ends_within(r: reqwest::Response, within: Duration) -> Option<usize> {
    assert_eq!(r.status(), StatusCode::OK);
    let mut body = r.bytes_stream();
    let mut chunks = 0;
    tokio::time::timeout(within, async {
        while let Some(c) = body.next().await {
            if c.is_err() {
                break;
            }
            chunks += 1;
        }
    })
    .await
    .ok()
    .map(|_| chunks)
}

async fn streams_end_when_access_ends(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |o| o.stream_recheck = Duration::from_millis(200)).await else {
        return;
    };
    let owner = app.user("owner@example.org", false).await;
    let member = app.user("member@example.org", false).await;
    let project = app.project(&owner, "p").await;
    app.join(&owner, &project, &member, "viewer").await;
    let doc = app.upload(&owner.access, &project, "a.txt", sample_book("streams")).await;
    let stream = format!("/api/v1/projects/{project}/progress/stream");

    // A member removed from the project: their open project stream ends.
    let open = app.request(Method::GET, &stream, Some(&member.access)).send().await.unwrap();
    let ended = tokio::spawn(ends_within(open, Duration::from_secs(10)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = app
        .request(Method::DELETE, &format!("/api/v1/projects/{project}/members/{}", member.user), Some(&owner.access))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert!(ended.await.unwrap().is_some(), "the removed member's stream ended");

    // A revoked API key: its open streams (project and document) end.
    let r = app
        .post(&format!("/api/v1/projects/{project}/api-keys"), &owner.access, json!({"name": "ci", "role": "viewer"}))
        .await;
    let key: Value = r.json().await.unwrap();
    let secret = key["key"].as_str().unwrap().to_owned();
    let on_project = app.request(Method::GET, &stream, Some(&secret)).send().await.unwrap();
    let project_ended = tokio::spawn(ends_within(on_project, Duration::from_secs(10)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = app
        .request(
            Method::DELETE,
            &format!("/api/v1/projects/{project}/api-keys/{}", key["id"].as_str().unwrap()),
            Some(&owner.access),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert!(project_ended.await.unwrap().is_some(), "the revoked key's stream ended");
    let r = app.get(&format!("/api/v1/documents/{doc}/progress/stream"), &secret).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "and new ones are refused");
    app.stop().await;
}

#[tokio::test]
async fn streams_end_when_access_ends_sqlite() {
    streams_end_when_access_ends(Backend::Sqlite).await;
}

#[tokio::test]
async fn streams_end_when_access_ends_postgres() {
    streams_end_when_access_ends(Backend::Postgres).await;
}

#[tokio::test]
async fn a_stream_ends_when_its_access_token_expires() {
    let app = TestApp::spawn_with(Backend::Sqlite, |o| o.access_ttl = Duration::from_secs(2)).await.unwrap();
    let owner = app.user("owner@example.org", false).await;
    let project = app.project(&owner, "p").await;
    let open = app.get(&format!("/api/v1/projects/{project}/progress/stream"), &owner.access).await;
    let started = std::time::Instant::now();
    assert!(ends_within(open, Duration::from_secs(10)).await.is_some(), "the stream ended");
    assert!(started.elapsed() < Duration::from_secs(4), "at the token's expiry, not later: {:?}", started.elapsed());
    app.stop().await;
}

async fn secrets_are_never_kept_for_replay(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let owner = app.user("owner@example.org", false).await;
    let project = app.project(&owner, "p").await;
    let create = |key: &'static str| {
        app.request(Method::POST, &format!("/api/v1/projects/{project}/api-keys"), Some(&owner.access))
            .header("idempotency-key", key)
            .json(&json!({"name": "ci", "role": "viewer"}))
    };
    let r = create("k-1").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let secret = r.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned();
    // A repeat does not show the secret again: it says the request succeeded and why the answer is withheld.
    let again = create("k-1").send().await.unwrap();
    let (status, body) = problem(again).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("secret_not_replayable")));
    let listed: Value =
        app.get(&format!("/api/v1/projects/{project}/api-keys"), &owner.access).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "nothing ran twice");

    // Refreshed tokens are secrets too.
    let r = app
        .request(Method::POST, "/api/v1/auth/refresh", Some(&owner.access))
        .header("idempotency-key", "r-1")
        .json(&json!({"refresh_token": owner.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tokens: Value = r.json().await.unwrap();

    // The store keeps no copy of any of them: the record holds the status alone.
    let scope = format!("user:{}", owner.user);
    for key in ["k-1", "r-1"] {
        let claim = app.state.store().claim_idempotency_key(&scope, key, "probe", i64::MAX / 2, 0, 0).await.unwrap();
        let bindery_store::IdempotencyClaim::Completed { response, .. } = claim else { panic!("{key}: {claim:?}") };
        assert!(response.body.is_empty(), "{key}: {} bytes kept", response.body.len());
    }
    if matches!(backend, Backend::Sqlite) {
        // And not a byte of them is anywhere in the database files.
        for entry in std::fs::read_dir(app.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                for s in [&secret, tokens["refresh_token"].as_str().unwrap(), tokens["access_token"].as_str().unwrap()]
                {
                    assert!(!bytes.windows(s.len()).any(|w| w == s.as_bytes()), "a secret is in {}", path.display());
                }
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn secrets_are_never_kept_for_replay_sqlite() {
    secrets_are_never_kept_for_replay(Backend::Sqlite).await;
}

#[tokio::test]
async fn secrets_are_never_kept_for_replay_postgres() {
    secrets_are_never_kept_for_replay(Backend::Postgres).await;
}

/// Every error is a problem document with a stable code, and the OpenAPI description declares its status.
#[tokio::test]
async fn every_error_is_a_problem_document_that_the_description_declares() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let admin = app.user("admin@example.org", true).await;
    let spec: Value = app.http.get(format!("{}/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    let t = Some(admin.access.as_str());
    let cases: Vec<(reqwest::RequestBuilder, &str, &str, u16, &str)> = vec![
        (
            app.request(Method::POST, "/api/v1/projects", t).header("content-type", "application/json").body("{nope"),
            "/api/v1/projects",
            "post",
            400,
            "bad_request",
        ),
        (
            app.request(Method::POST, "/api/v1/projects", t).header("content-type", "text/plain").body("{}"),
            "/api/v1/projects",
            "post",
            415,
            "unsupported_media_type",
        ),
        (
            app.request(Method::POST, "/api/v1/projects", t).json(&json!({"title": 3})),
            "/api/v1/projects",
            "post",
            422,
            "unprocessable",
        ),
        (
            app.request(Method::POST, "/api/v1/projects", t)
                .header("content-type", "application/json")
                .body(format!("{{\"name\": \"{}\"}}", "n".repeat(3 << 20))),
            "/api/v1/projects",
            "post",
            413,
            "payload_too_large",
        ),
        (app.request(Method::GET, "/api/v1/admin/jobs?limit=many", t), "/api/v1/admin/jobs", "get", 400, "bad_request"),
        (
            app.request(Method::POST, "/api/v1/admin/jobs/not-a-number/retry", t),
            "/api/v1/admin/jobs/{job}/retry",
            "post",
            400,
            "bad_request",
        ),
        (app.request(Method::GET, "/api/v1/no-such-thing", t), "", "", 404, "not_found"),
        (app.request(Method::DELETE, "/api/v1/projects", t), "", "", 405, "method_not_allowed"),
        (app.request(Method::GET, "/api/v1/me", Some("garbage")), "/api/v1/me", "get", 401, "invalid_token"),
    ];
    for (request, path, method, status, code) in cases {
        let r = request.send().await.unwrap();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let (got, body) = problem(r).await;
        assert_eq!((got.as_u16(), body["code"].as_str()), (status, Some(code)), "{method} {path}: {body}");
        if !path.is_empty() {
            let declared = &spec["paths"][path][method]["responses"][status.to_string()];
            assert!(declared.is_object(), "{method} {path} does not declare {status}");
            assert!(
                declared["content"].get("application/problem+json").is_some(),
                "{method} {path} declares {status} without problem+json: {declared}"
            );
        }
    }
    // The Authorization scheme is case-insensitive.
    let r = app
        .http
        .get(format!("{}/api/v1/me", app.base))
        .header("authorization", format!("BEARER {}", admin.access))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Uploading into a project that does not exist is a 404, even for an instance administrator.
    let r = app
        .request(Method::POST, "/api/v1/projects/no-such-project/documents?filename=a.txt", t)
        .body(sample_book("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.0, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn sign_in_redirects_stay_on_this_site_and_pages_are_not_stored() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for next in ["/%09/evil.example/x", "%0d%0aSet-Cookie:%20a=b", "//evil.example", "https://evil.example/"] {
        let r = client.get(format!("{}/ui/auth/refresh?next={next}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next}");
        let location = r.headers()["location"].to_str().unwrap();
        assert_eq!(location, "/ui/login?next=/ui/projects", "{next}");
    }
    let r = client.get(format!("{}/ui/login", app.base)).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-store");
    app.stop().await;
}

#[tokio::test]
async fn http_details_signed_out_tokens_conditional_reads_and_usage() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let s = app.user("grace@example.org", false).await;
    // A refresh token ended by signing out is over, not "reused": nothing was stolen.
    assert_eq!(app.post("/api/v1/auth/logout", &s.access, json!({})).await.status(), StatusCode::NO_CONTENT);
    let r = app.post("/api/v1/auth/refresh", "", json!({"refresh_token": s.refresh})).await;
    assert_eq!(problem(r).await.1["code"], "invalid_token");
    // `If-None-Match: *` matches any current representation.
    let project = app.project(&s, "p").await;
    let doc = app.upload(&s.access, &project, "a.txt", sample_book("etag")).await;
    let r = app
        .request(Method::GET, &format!("/api/v1/documents/{doc}"), Some(&s.access))
        .header("if-none-match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    // A project that spent nothing spent 0, not -0.
    let usage = app.get(&format!("/api/v1/projects/{project}/usage"), &s.access).await.text().await.unwrap();
    assert!(usage.contains("\"cost_usd\":0.0"), "{usage}");
    app.stop().await;
}

#[tokio::test]
async fn the_upload_limit_is_one_rule_for_the_whole_request() {
    let app = TestApp::spawn_with(Backend::Sqlite, |o| o.max_upload_bytes = 1000).await.unwrap();
    let s = app.user("ada@example.org", false).await;
    let project = app.project(&s, "Small").await;
    // A chunked multipart request of three files of 600 bytes: each under the limit, together over it.
    let mut body = Vec::new();
    for i in 0..3 {
        body.extend_from_slice(
            format!("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f{i}.txt\"\r\n\r\n").as_bytes(),
        );
        body.extend(std::iter::repeat_n(b'a' + i as u8, 600));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--XyZ--\r\n");
    let chunks =
        futures::stream::iter(body.chunks(256).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>());
    let r = app
        .request(Method::POST, &format!("/api/v1/projects/{project}/documents"), Some(&s.access))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "payload_too_large");
    app.stop().await;
}

#[tokio::test]
async fn a_planted_csrf_cookie_does_not_pass() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let s = app.user("ada@example.org", false).await;
    // A sibling site that can write cookies (cookie tossing) plants its own CSRF value and repeats it in the header:
    // the double-submit check alone would pass. The token must be the one of the victim's login.
    let planted = "planted-token-value";
    let r = app
        .http
        .post(format!("{}/api/v1/projects", app.base))
        .header("cookie", format!("bindery_access={}; bindery_csrf={planted}", s.access))
        .header("x-csrf-token", planted)
        .json(&json!({"name": "forged"}))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(r).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("csrf_failed")));
    app.stop().await;
}

#[tokio::test]
async fn operations_endpoints_can_leave_the_public_listener() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (public, handle) = app.second_api(|o| o.ops_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    let ops = format!("http://{}", handle.ops_addr.expect("an operations listener"));
    let http = app.http.clone();
    let get = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    // The public listener keeps liveness only.
    assert_eq!(get(format!("{public}/health")).await.status(), StatusCode::OK);
    for path in ["/ready", "/metrics"] {
        assert_eq!(problem(get(format!("{public}{path}")).await).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    // The operations listener has the three, and nothing of the API.
    assert_eq!(get(format!("{ops}/health")).await.status(), StatusCode::OK);
    assert_eq!(get(format!("{ops}/ready")).await.status(), StatusCode::OK);
    assert_eq!(problem(get(format!("{ops}/api/v1/me")).await).await.0, StatusCode::NOT_FOUND);
    handle.shutdown().await.unwrap();
    app.stop().await;
}

/// The answer to an invitation, without what differs by construction (its id, address and times).
async fn invitation_shape(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let mut body: Value = r.json().await.unwrap();
    for field in ["id", "email", "created_ms", "expires_ms"] {
        body.as_object_mut().unwrap().remove(field);
    }
    (status, body)
}

/// Adding members by address told any user which addresses have accounts, and the added person could not leave.
/// Now people join through invitations they accept: an owner learns nothing about accounts, an invitation is for
/// its addressee alone, and members may leave.
async fn joining_reveals_no_accounts_and_members_may_leave(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let owner = app.user("owner@example.org", false).await;
    let amy = app.user("amy@example.org", false).await;
    let eve = app.user("eve@example.org", false).await;
    let project = app.project(&owner, "Club").await;
    let invitations = format!("/api/v1/projects/{project}/invitations");

    // An address with an account and one without get the same answer, to inviting and to setting a role.
    let with = app.post(&invitations, &owner.access, json!({"email": "amy@example.org", "role": "editor"})).await;
    let without = app.post(&invitations, &owner.access, json!({"email": "nobody@example.org", "role": "editor"})).await;
    assert_eq!(invitation_shape(with).await, invitation_shape(without).await);
    // The length limit counts characters, as the schema's maxLength does: 215 characters of 425 bytes are in.
    let wide = format!("{}@{}.org", "é".repeat(60), "è".repeat(150));
    assert!(wide.chars().count() <= 254 && wide.len() > 254, "{wide}");
    let r = app.post(&invitations, &owner.access, json!({"email": wide, "role": "viewer"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let wide_id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let revoke_wide = format!("{invitations}/{wide_id}");
    assert_eq!(app.request(Method::DELETE, &revoke_wide, Some(&owner.access)).send().await.unwrap().status(), 204);
    let too_long = format!("{}@{}.example.org", "a".repeat(64), "b".repeat(190));
    let r = app.post(&invitations, &owner.access, json!({"email": too_long, "role": "viewer"})).await;
    assert_eq!(problem(r).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let members = format!("/api/v1/projects/{project}/members");
    let (status, with) =
        problem(app.put(&members, &owner.access, json!({"email": amy.email, "role": "viewer"})).await).await;
    let (_, without) =
        problem(app.put(&members, &owner.access, json!({"email": "nobody@example.org", "role": "viewer"})).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(with["code"], without["code"]);
    assert_eq!(
        with["detail"].as_str().unwrap().replace("amy@example.org", "X"),
        without["detail"].as_str().unwrap().replace("nobody@example.org", "X"),
        "the same words, whoever it is"
    );

    // Only its addressee sees and answers an invitation; to anyone else it does not exist.
    let theirs: Vec<Value> = app.get("/api/v1/invitations", &amy.access).await.json().await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!((theirs[0]["project_name"].as_str(), theirs[0]["role"].as_str()), (Some("Club"), Some("editor")));
    let id = theirs[0]["id"].as_str().unwrap();
    let eves: Vec<Value> = app.get("/api/v1/invitations", &eve.access).await.json().await.unwrap();
    assert!(eves.is_empty());
    let r = app.post(&format!("/api/v1/invitations/{id}/accept"), &eve.access, json!({})).await;
    assert_eq!(problem(r).await.1["code"], "not_found");
    let r = app.request(Method::DELETE, &format!("/api/v1/invitations/{id}"), Some(&eve.access)).send().await.unwrap();
    assert_eq!(problem(r).await.1["code"], "not_found", "nor declines it");
    assert_eq!(app.get(&format!("/api/v1/projects/{project}"), &amy.access).await.status(), StatusCode::NOT_FOUND);

    // Accepting makes a member, once.
    let r = app.post(&format!("/api/v1/invitations/{id}/accept"), &amy.access, json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let joined: Value = r.json().await.unwrap();
    assert_eq!((joined["id"].as_str(), joined["role"].as_str()), (Some(project.as_str()), Some("editor")));
    let r = app.post(&format!("/api/v1/invitations/{id}/accept"), &amy.access, json!({})).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.post(&invitations, &owner.access, json!({"email": "AMY@example.org", "role": "viewer"})).await;
    assert_eq!(problem(r).await.1["code"], "conflict", "already a member: the owner sees the members anyway");

    // A member leaves; an API key (an owner's, here) cannot make its user leave, nor answer invitations.
    let promote = json!({"email": amy.email, "role": "owner"});
    let r = app.put(&format!("/api/v1/projects/{project}/members"), &owner.access, promote).await;
    assert_eq!(r.status(), StatusCode::OK, "a member's role changes");
    let key: Value = app
        .post(&format!("/api/v1/projects/{project}/api-keys"), &amy.access, json!({"name": "k", "role": "viewer"}))
        .await
        .json()
        .await
        .unwrap();
    let secret = key["key"].as_str().unwrap();
    let leave = format!("/api/v1/projects/{project}/members/{}", amy.user);
    let r = app.request(Method::DELETE, &leave, Some(secret)).send().await.unwrap();
    assert_eq!(problem(r).await.1["code"], "forbidden");
    assert_eq!(problem(app.get("/api/v1/invitations", secret).await).await.1["code"], "forbidden");
    let r = app.request(Method::DELETE, &leave, Some(&amy.access)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/v1/projects/{project}"), &amy.access).await.status(), StatusCode::NOT_FOUND);
    // Another member cannot remove someone else; the last owner cannot leave.
    app.join(&owner, &project, &eve, "editor").await;
    let r = app
        .request(Method::DELETE, &format!("/api/v1/projects/{project}/members/{}", owner.user), Some(&eve.access))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "forbidden");
    let r = app
        .request(Method::DELETE, &format!("/api/v1/projects/{project}/members/{}", owner.user), Some(&owner.access))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "conflict");

    // Owners see, and revoke, what is pending; a revoked invitation cannot be accepted.
    let pending: Vec<Value> = app.get(&invitations, &owner.access).await.json().await.unwrap();
    let emails: Vec<&str> = pending.iter().map(|i| i["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["nobody@example.org"]);
    assert_eq!(problem(app.get(&invitations, &eve.access).await).await.1["code"], "forbidden", "owners only");
    let nobody = pending[0]["id"].as_str().unwrap();
    let revoke = format!("{invitations}/{nobody}");
    assert_eq!(app.request(Method::DELETE, &revoke, Some(&owner.access)).send().await.unwrap().status(), 204);
    let later = app.user("nobody@example.org", false).await;
    assert!(app.get("/api/v1/invitations", &later.access).await.json::<Vec<Value>>().await.unwrap().is_empty());
}

#[tokio::test]
async fn joining_reveals_no_accounts_and_members_may_leave_sqlite() {
    joining_reveals_no_accounts_and_members_may_leave(Backend::Sqlite).await;
}

#[tokio::test]
async fn joining_reveals_no_accounts_and_members_may_leave_postgres() {
    joining_reveals_no_accounts_and_members_may_leave(Backend::Postgres).await;
}
