//! The web UI over plain HTTP, as a browser would speak it (cookies kept by hand, redirects not followed): the
//! login form and its cookies, transparent refresh, logout; the CSRF rule for cookie-authenticated API calls and
//! forms; pages refusing what the API refuses; the library's cursor pages; assets and security headers; webhooks,
//! members, API keys and cancel from the UI, each checked against the JSON API's view of the result.

mod common;

use common::{sample_book, Backend, TestApp, PASSWORD};
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect, Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A cookie-keeping client that does not follow redirects, so each step can be checked.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
    /// The raw `Set-Cookie` lines of the last response.
    set: Vec<String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn new(app: &TestApp) -> Browser {
        let http = reqwest::Client::builder().redirect(redirect::Policy::none()).build().unwrap();
        Browser { base: app.base.clone(), http, cookies: BTreeMap::new(), set: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, headers: &HeaderMap) {
        self.set = headers.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        for line in &self.set {
            let (pair, attrs) = line.split_once(';').unwrap_or((line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let r = request.header(COOKIE, self.cookie_header()).send().await.unwrap();
        self.keep(r.headers());
        let status = r.status();
        let location = r.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned());
        Page { status, location, body: r.text().await.unwrap() }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    async fn form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.http.post(format!("{}{path}", self.base)).form(fields);
        self.send(request).await
    }

    fn csrf(&self) -> String {
        self.cookies["bindery_csrf"].clone()
    }

    fn set_line(&self, name: &str) -> String {
        self.set.iter().find(|l| l.starts_with(&format!("{name}="))).cloned().unwrap_or_default()
    }

    /// Signs in through the form, as a person would.
    async fn sign_in(&mut self, email: &str) {
        let login = self.get("/ui/login").await;
        assert_eq!(login.status, StatusCode::OK);
        let csrf = self.csrf();
        let r = self
            .form("/ui/login", &[("email", email), ("password", PASSWORD), ("csrf", csrf.as_str()), ("next", "")])
            .await;
        assert_eq!((r.status, r.location.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/projects")), "{}", r.body);
    }
}

async fn login_cookie_flow(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    bindery_api::create_user_record(&app.state, "ada@example.org", PASSWORD, false).await.unwrap();
    let mut b = Browser::new(&app);

    // A stranger goes through the refresh endpoint (no refresh cookie) to the login form, keeping the destination.
    let r = b.get("/ui/projects").await;
    assert_eq!((r.status, r.location.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/auth/refresh?next=/ui/projects")));
    let r = b.get("/ui/auth/refresh?next=/ui/projects").await;
    assert_eq!(r.location.as_deref(), Some("/ui/login?next=/ui/projects"));

    // The form sets a readable CSRF cookie and carries the same token.
    let r = b.get("/ui/login?next=/ui/search").await;
    assert_eq!(r.status, StatusCode::OK);
    let csrf = b.csrf();
    assert!(r.body.contains(&format!("name=\"csrf\" value=\"{csrf}\"")), "the form carries the token");
    assert!(!b.set_line("bindery_csrf").contains("HttpOnly"));

    // Without the token, or with a wrong password, no session.
    let r = b.form("/ui/login", &[("email", "ada@example.org"), ("password", PASSWORD), ("csrf", "forged")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!b.cookies.contains_key("bindery_access"));
    let r = b
        .form("/ui/login", &[("email", "ada@example.org"), ("password", "wrong password"), ("csrf", csrf.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("wrong") && r.body.contains("role=\"alert\""), "{}", r.body);

    // Signing in: HttpOnly, SameSite=Strict cookies, the refresh one only for /ui/auth; back to `next`.
    let fields =
        [("email", "ada@example.org"), ("password", PASSWORD), ("csrf", csrf.as_str()), ("next", "/ui/search")];
    let r = b.form("/ui/login", &fields).await;
    assert_eq!((r.status, r.location.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/search")));
    let access = b.set_line("bindery_access");
    assert!(
        access.contains("HttpOnly") && access.contains("SameSite=Strict") && access.contains("Path=/;"),
        "{access}"
    );
    let refresh = b.set_line("bindery_refresh");
    assert!(refresh.contains("HttpOnly") && refresh.contains("Path=/ui/auth;"), "{refresh}");
    assert_ne!(b.csrf(), csrf, "a new CSRF token for the new session");
    let r = b.get("/ui/projects").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("ada@example.org") && r.body.contains("<main id=\"main\""));

    // The API accepts the cookie for reads; unsafe calls need the header too.
    let (http, base) = (b.http.clone(), b.base.clone());
    let api = move |method: Method, path: &str| http.request(method, format!("{base}{path}"));
    let me: Value =
        api(Method::GET, "/api/v1/me").header(COOKIE, b.cookie_header()).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@example.org");
    let create = || api(Method::POST, "/api/v1/projects").header(COOKIE, b.cookie_header()).json(&json!({"name": "x"}));
    let refused = create().send().await.unwrap();
    let (status, p) = common::problem(refused).await;
    assert_eq!((status, p["code"].as_str()), (StatusCode::FORBIDDEN, Some("csrf_failed")));
    let refused = create().header("x-csrf-token", "forged").send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let created = create().header("x-csrf-token", b.csrf()).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert!(me["projects"].as_array().unwrap().is_empty());

    // A form without the token cannot act either: a cross-site form can never carry it.
    let r = b.form("/ui/projects", &[("name", "forged")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("Form expired") && !r.body.contains("panicked"), "a friendly page: {}", r.body);
    let csrf = b.csrf();
    let r = b.form("/ui/projects", &[("name", "Shelf"), ("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let project_page = r.location.unwrap();
    assert!(project_page.starts_with("/ui/projects/"));
    let r = b.get(&project_page).await;
    assert!(r.body.contains("<h1>Shelf</h1>") && r.body.contains("id=\"files\""), "{}", r.body);
    let listed = b.get("/ui/projects").await.body;
    assert!(!listed.contains("forged") && listed.contains("Shelf"));

    // An expired (here: broken) access cookie is renewed through the refresh cookie, transparently.
    b.cookies.insert("bindery_access".into(), "expired".into());
    let r = b.get("/ui/search?q=x").await;
    assert_eq!(r.location.as_deref(), Some("/ui/auth/refresh?next=/ui/search%3Fq%3Dx"));
    let spent = b.cookies["bindery_refresh"].clone();
    let r = b.get(r.location.as_deref().unwrap()).await;
    assert_eq!(r.location.as_deref(), Some("/ui/search?q=x"));
    assert_ne!(b.cookies["bindery_refresh"], spent, "the refresh token rotated");
    assert_eq!(b.get("/ui/search?q=x").await.status, StatusCode::OK);

    // Scripts refresh with POST and the CSRF header.
    let r = api(Method::POST, "/ui/auth/refresh").header(COOKIE, b.cookie_header()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "no CSRF header");
    let r = b.send(api(Method::POST, "/ui/auth/refresh").header("x-csrf-token", b.csrf())).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    // Logout revokes the refresh tokens and clears the cookies.
    let refresh = b.cookies["bindery_refresh"].clone();
    let csrf = b.csrf();
    let r = b.form("/ui/auth/logout", &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.location.as_deref(), Some("/ui/login"));
    assert!(b.cookies.is_empty(), "every cookie is cleared: {:?}", b.cookies);
    let r = app.post("/api/v1/auth/refresh", "", json!({"refresh_token": refresh})).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the refresh token is revoked");
    assert_eq!(b.get("/ui/projects").await.status, StatusCode::SEE_OTHER);
    app.stop().await;
}

#[tokio::test]
async fn login_cookie_flow_sqlite() {
    login_cookie_flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn login_cookie_flow_postgres() {
    login_cookie_flow(Backend::Postgres).await;
}

async fn pages_refuse_what_the_api_refuses(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let owner = app.user("owner@example.org", false).await;
    let project = app.project(&owner, "Private").await;
    let doc = app.upload(&owner.access, &project, "book.txt", sample_book("oak")).await;
    let end = app.follow(&owner.access, &doc, None).await;
    assert_eq!(end.last().unwrap().1["status"], "ready");

    let mut owner_b = Browser::new(&app);
    owner_b.sign_in("owner@example.org").await;
    let mut stranger = Browser::new(&app);
    app.user("stranger@example.org", false).await;
    stranger.sign_in("stranger@example.org").await;
    let mut admin = Browser::new(&app);
    app.user("root@example.org", true).await;
    admin.sign_in("root@example.org").await;

    // The owner sees the library, the book and search hits.
    let library = owner_b.get(&format!("/ui/projects/{project}")).await;
    assert_eq!(library.status, StatusCode::OK);
    assert!(library.body.contains(&format!("data-document=\"{doc}\"")) && library.body.contains("loading=\"lazy\""));
    let book = owner_b.get(&format!("/ui/books/{doc}")).await;
    assert_eq!(book.status, StatusCode::OK);
    assert!(book.body.contains("id=\"chapter-2\"") && book.body.contains("Cheshire"), "{}", book.body);
    assert!(book.body.contains("<audio") && book.body.contains("id=\"downloads\""));
    assert!(book.body.contains("<dt>Enriched by</dt><dd>offline</dd>"), "the analyzer is named");
    let hits = owner_b.get("/ui/search?q=cheshire").await;
    assert!(hits.body.contains("<mark>Cheshire</mark>"), "{}", hits.body);

    // A non-member gets "not found" pages, exactly like the API, and finds nothing.
    for page in [format!("/ui/projects/{project}"), format!("/ui/books/{doc}"), "/ui/books/nonexistent".into()] {
        let r = stranger.get(&page).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{page}");
        assert!(r.body.contains("Not found") && !r.body.contains(&doc[..8]), "{}", r.body);
    }
    let hits = stranger.get("/ui/search?q=cheshire").await;
    assert!(hits.body.contains("0 results") && !hits.body.contains("<mark>"), "{}", hits.body);
    let r = stranger.get("/ui/projects").await;
    assert!(!r.body.contains("Private"));

    // Administration is for instance administrators only, and a form cannot retry without the token.
    let r = stranger.get("/ui/admin").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("Not allowed"));
    let csrf = stranger.csrf();
    assert_eq!(stranger.form("/ui/admin/jobs/1/retry", &[("csrf", csrf.as_str())]).await.status, StatusCode::FORBIDDEN);
    let r = admin.get("/ui/admin").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"queues\"") && r.body.contains("<section id=\"webhooks\""), "{}", r.body);
    assert!(r.body.contains(&format!("href=\"/ui/projects/{project}/webhooks\"")), "each project links its webhooks");
    assert!(
        r.body.contains("enrichment uses the built-in offline analyzer"),
        "no provider behind the offline analyzer"
    );
    assert_eq!(admin.form("/ui/admin/jobs/1/retry", &[]).await.status, StatusCode::FORBIDDEN, "no CSRF field");

    // Unknown pages are friendly too.
    let r = owner_b.get("/ui/no/such/page").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Back to your projects"));
    app.stop().await;
}

#[tokio::test]
async fn pages_refuse_what_the_api_refuses_sqlite() {
    pages_refuse_what_the_api_refuses(Backend::Sqlite).await;
}

#[tokio::test]
async fn pages_refuse_what_the_api_refuses_postgres() {
    pages_refuse_what_the_api_refuses(Backend::Postgres).await;
}

/// A project of 1,000 books pages through the store's cursor, 60 covers at a time, and every book appears once.
#[tokio::test]
async fn a_thousand_books_page_by_cursor() {
    let mut app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.stop_worker().await;
    let owner = app.user("owner@example.org", false).await;
    let project = app.project(&owner, "Big").await;
    for i in 0..1000 {
        let bytes = format!("Book number {i}.\n").into_bytes();
        app.state.engine.submit_reader(&format!("book-{i}.txt"), &bytes[..], None, Some(&project)).await.unwrap();
    }
    let mut b = Browser::new(&app);
    b.sign_in("owner@example.org").await;
    let mut seen = std::collections::HashSet::new();
    let mut path = format!("/ui/projects/{project}");
    let mut pages = 0;
    loop {
        let started = std::time::Instant::now();
        let r = b.get(&path).await;
        eprintln!("library page {pages}: {} ms", started.elapsed().as_millis());
        assert_eq!(r.status, StatusCode::OK);
        pages += 1;
        let cards = r.body.matches("class=\"card\" data-document=\"").count();
        for part in r.body.split("data-document=\"").skip(1) {
            assert!(seen.insert(part[..32].to_owned()), "each book once");
        }
        match r.body.split("rel=\"next\"").next().and_then(|head| head.rsplit("href=\"").next()) {
            Some(href) if r.body.contains("rel=\"next\"") => {
                assert_eq!(cards, 60);
                path = href.trim_end_matches("\" ").trim_end_matches('"').replace("&amp;", "&");
            }
            _ => break,
        }
    }
    assert_eq!((seen.len(), pages), (1000, 17));
    app.stop().await;
}

#[tokio::test]
async fn assets_are_cached_and_pages_are_locked_down() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let mut b = Browser::new(&app);
    let login = b.get("/ui/login").await;
    let css = login.body.split("href=\"").find(|s| s.starts_with("/ui/assets/app.css")).unwrap();
    let css = &css[..css.find('"').unwrap()];
    let r = app.request(Method::GET, css, None).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
    let r = app.request(Method::GET, "/ui/assets/app.js", None).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-cache", "an unversioned URL revalidates");
    assert!(r.text().await.unwrap().contains("EventSource"));
    assert_eq!(
        app.request(Method::GET, "/ui/assets/nope.js", None).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let r = app.request(Method::GET, "/ui/login", None).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "no external assets");
    assert!(html.contains("<label for=\"email\">") && html.contains("autocomplete=\"current-password\""));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------------------------
// Webhooks, members, API keys and cancel, from the UI.

/// The text between `start` and the next `end` in `body`.
fn between<'a>(body: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = body.find(start)? + start.len();
    let len = body[from..].find(end)?;
    Some(&body[from..from + len])
}

/// Undoes the HTML escaping of an attribute value (a secret may hold `+` and `/`).
fn unescape(s: &str) -> String {
    let table = [
        ("&#43;", "+"),
        ("&#x2b;", "+"),
        ("&#47;", "/"),
        ("&#x2f;", "/"),
        ("&#61;", "="),
        ("&#x3d;", "="),
        ("&quot;", "\""),
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&#x27;", "'"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
    ];
    table.iter().fold(s.to_owned(), |acc, (from, to)| acc.replace(from, to))
}

/// A webhook receiver on loopback, as in `tests/webhooks.rs`: it checks each request's Standard Webhooks signature
/// with the secret it was given (401 when it does not match), and answers the statuses it was told to, then 204.
#[derive(Clone)]
struct Receiver {
    url: String,
    inbox: std::sync::Arc<std::sync::Mutex<Inbox>>,
}

#[derive(Default)]
struct Inbox {
    secret: String,
    script: std::collections::VecDeque<u16>,
    /// The event types of the requests whose signature was right.
    verified: Vec<String>,
    bad_signatures: usize,
}

impl Receiver {
    async fn start() -> Receiver {
        let inbox: std::sync::Arc<std::sync::Mutex<Inbox>> = Default::default();
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, inbox }
    }
}

async fn receive(
    axum::extract::State(inbox): axum::extract::State<std::sync::Arc<std::sync::Mutex<Inbox>>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let mut inbox = inbox.lock().unwrap();
    let now = bindery_core::time::now_ms() / 1000;
    let verified = bindery_outbox::SignatureHeaders::from_header_map(&headers)
        .and_then(|h| bindery_outbox::verify(&inbox.secret, &h, &body, now, 300).map(|_| ()));
    if verified.is_err() {
        inbox.bad_signatures += 1;
        return axum::http::StatusCode::UNAUTHORIZED;
    }
    let event: Value = serde_json::from_slice(&body).unwrap();
    inbox.verified.push(event["type"].as_str().unwrap_or_default().to_owned());
    let status = inbox.script.pop_front().unwrap_or(204);
    axum::http::StatusCode::from_u16(status).unwrap()
}

/// The project's members' user ids, by address.
async fn members_ids(app: &TestApp, owner: &common::Session, project: &str) -> BTreeMap<String, String> {
    let rows: Vec<Value> =
        app.get(&format!("/api/v1/projects/{project}/members"), &owner.access).await.json().await.unwrap();
    rows.into_iter()
        .map(|m| (m["email"].as_str().unwrap().to_owned(), m["user"].as_str().unwrap().to_owned()))
        .collect()
}

/// Makes the account with `email` a member, as people join: invited, then accepting (signed in with the API).
async fn add_member(app: &TestApp, owner: &common::Session, project: &str, email: &str, role: &str) {
    let r = app.request(Method::POST, "/api/v1/auth/login", None).json(&json!({"email": email, "password": PASSWORD}));
    let tokens: Value = r.send().await.unwrap().json().await.unwrap();
    let access = tokens["access_token"].as_str().expect("signed in").to_owned();
    let member = common::Session { user: String::new(), email: email.into(), access, refresh: String::new() };
    app.join(owner, project, &member, role).await;
}

async fn webhooks_from_the_ui(backend: Backend) {
    let allow = bindery_outbox::Allowlist::parse("127.0.0.1").unwrap();
    let Some(app) = TestApp::spawn_with(backend, |o| o.webhook_allow = allow).await else { return };
    let owner = app.user("owner@example.org", false).await;
    app.user("editor@example.org", false).await;
    app.user("viewer@example.org", false).await;
    app.user("root@example.org", true).await;
    let project = app.project(&owner, "Hooked").await;
    add_member(&app, &owner, &project, "editor@example.org", "editor").await;
    add_member(&app, &owner, &project, "viewer@example.org", "viewer").await;
    let api_list = || async {
        let r = app.get(&format!("/api/v1/projects/{project}/webhooks"), &owner.access).await;
        r.json::<Vec<Value>>().await.unwrap()
    };
    let rx = Receiver::start().await;
    let mut b = Browser::new(&app);
    b.sign_in("owner@example.org").await;
    let hooks = format!("/ui/projects/{project}/webhooks");

    // The library links the webhooks and the settings; the list starts empty, with the form.
    let library = b.get(&format!("/ui/projects/{project}")).await;
    assert!(library.body.contains(&format!("href=\"{hooks}\"")), "{}", library.body);
    assert!(library.body.contains(&format!("href=\"/ui/projects/{project}/settings\"")));
    let r = b.get(&hooks).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("No endpoints yet") && r.body.contains("<label for=\"endpoint-url\">"), "{}", r.body);

    // Without the CSRF field, or with a wrong one, nothing is created.
    let url = rx.url.as_str();
    let r = b.form(&hooks, &[("url", url), ("event_types", "")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("Form expired"));
    let r = b.form(&hooks, &[("url", url), ("event_types", ""), ("csrf", "forged")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(api_list().await.is_empty());

    // A loopback address that the operator did not allow is refused by the API's SSRF check; the form comes back
    // as typed, with the reason.
    let csrf = b.csrf();
    let internal = "http://127.0.0.2:9/hook";
    let r = b.form(&hooks, &[("url", internal), ("event_types", "document.*"), ("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("role=\"alert\"") && r.body.contains("loopback"), "{}", r.body);
    assert!(r.body.contains(&format!("value=\"{internal}\"")) && r.body.contains("value=\"document.*\""));
    assert!(api_list().await.is_empty(), "nothing was created");

    // Created: the secret is on the answer, once.
    let fields = [("url", url), ("event_types", "document.ready, stage.*"), ("description", "CI"), ("csrf", &csrf)];
    let r = b.form(&hooks, &fields).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let secret = unescape(between(&r.body, "id=\"signing-secret\" type=\"text\" readonly value=\"", "\"").unwrap());
    assert!(secret.starts_with("whsec_") && secret.len() > 20, "{secret}");
    let listed = api_list().await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["url"], url);
    assert_eq!(listed[0]["event_types"], json!(["document.ready", "stage.*"]));
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let endpoint = format!("{hooks}/{id}");
    let r = b.get(&hooks).await;
    assert!(r.body.contains(&format!("href=\"{endpoint}\"")) && r.body.contains("document.ready, stage.*"));
    let secret_tail = &secret[secret.len() - 12..];
    assert!(!r.body.contains("whsec_") && !r.body.contains(secret_tail), "the list never shows the secret again");
    let r = b.get(&endpoint).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("whsec_") && r.body.contains("Nothing delivered yet"), "{}", r.body);

    // A test delivery, signed with the secret that was shown, lands in the log with the endpoint's answer.
    rx.inbox.lock().unwrap().secret = secret.clone();
    let r = b.form(&format!("{endpoint}/test"), &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = b.get(r.location.as_deref().unwrap()).await;
    assert!(r.body.contains("was delivered: the endpoint answered HTTP 204"), "{}", r.body);
    assert!(r.body.contains("data-state=\"delivered\"") && r.body.contains("webhook.test"));
    assert_eq!(rx.inbox.lock().unwrap().verified, ["webhook.test"]);
    assert_eq!(rx.inbox.lock().unwrap().bad_signatures, 0);

    // A failed test shows as failed, with a Retry button that makes the delivery due again.
    rx.inbox.lock().unwrap().script.push_back(500);
    let r = b.form(&format!("{endpoint}/test"), &[("csrf", csrf.as_str())]).await;
    let tested = r.location.unwrap();
    let delivery = tested.rsplit("tested=").next().unwrap().to_owned();
    let r = b.get(&tested).await;
    assert!(r.body.contains(&format!("The test delivery {delivery} failed: the endpoint answered HTTP 500")));
    let row = between(&r.body, &format!("data-delivery=\"{delivery}\""), "</tr>").unwrap();
    assert!(row.contains("data-state=\"failed\"") && row.contains("HTTP 500") && row.contains(">Retry<"), "{row}");
    let retry = format!("{endpoint}/deliveries/{delivery}/retry");
    assert_eq!(b.form(&retry, &[]).await.status, StatusCode::FORBIDDEN, "no CSRF field");
    let r = b.form(&retry, &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = b.get(r.location.as_deref().unwrap()).await;
    assert!(r.body.contains(&format!("Delivery {delivery} will be sent again")), "{}", r.body);
    let row = between(&r.body, &format!("data-delivery=\"{delivery}\""), "</tr>").unwrap();
    assert!(row.contains("data-state=\"pending\""), "{row}");
    let d: Value = app
        .get(&format!("/api/v1/projects/{project}/webhooks/{id}/deliveries/{delivery}"), &owner.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["delivery"]["state"], "pending");

    // Disable and enable.
    let r = b.form(&format!("{endpoint}/disable"), &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(api_list().await[0]["enabled"], false);
    let r = b.get(&hooks).await;
    assert!(r.body.contains(">disabled</span>"), "{}", r.body);
    b.form(&format!("{endpoint}/enable"), &[("csrf", csrf.as_str())]).await;
    assert_eq!(api_list().await[0]["enabled"], true);

    // Editors read the endpoints and the log but change nothing; viewers see no webhooks, as in the API.
    let mut editor = Browser::new(&app);
    editor.sign_in("editor@example.org").await;
    let r = editor.get(&hooks).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(&rx.url) && !r.body.contains("id=\"endpoint-url\""), "no form for editors");
    assert!(!editor.get(&endpoint).await.body.contains("/test\""), "no actions for editors");
    let ecsrf = editor.csrf();
    let r = editor.form(&hooks, &[("url", url), ("csrf", ecsrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        editor.form(&format!("{endpoint}/delete"), &[("csrf", ecsrf.as_str())]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(api_list().await.len(), 1);
    let mut viewer = Browser::new(&app);
    viewer.sign_in("viewer@example.org").await;
    assert_eq!(viewer.get(&hooks).await.status, StatusCode::FORBIDDEN);
    assert_eq!(viewer.get(&endpoint).await.status, StatusCode::FORBIDDEN);

    // The admin page counts each project's endpoints and links to them.
    let mut admin = Browser::new(&app);
    admin.sign_in("root@example.org").await;
    let r = admin.get("/ui/admin").await;
    let row = between(&r.body, &format!("<a href=\"/ui/projects/{project}\">Hooked</a>"), "</tr>").unwrap();
    assert!(row.contains("<td>1</td><td>0</td><td>0</td>") && row.contains(&format!("href=\"{hooks}\"")), "{row}");

    // Deleting removes it.
    let r = b.form(&format!("{endpoint}/delete"), &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.location.as_deref(), Some(format!("{hooks}?done=deleted").as_str()));
    assert!(b.get(&hooks).await.body.contains("No endpoints yet"));
    assert!(api_list().await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn webhooks_from_the_ui_sqlite() {
    webhooks_from_the_ui(Backend::Sqlite).await;
}

#[tokio::test]
async fn webhooks_from_the_ui_postgres() {
    webhooks_from_the_ui(Backend::Postgres).await;
}

async fn members_and_keys_from_the_ui(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let owner = app.user("owner@example.org", false).await;
    let bob = app.user("bob@example.org", false).await;
    app.user("viewer@example.org", false).await;
    app.user("stranger@example.org", false).await;
    let project = app.project(&owner, "Team").await;
    add_member(&app, &owner, &project, "viewer@example.org", "viewer").await;
    let settings = format!("/ui/projects/{project}/settings");
    let members = || async {
        let r = app.get(&format!("/api/v1/projects/{project}/members"), &owner.access).await;
        let rows: Vec<Value> = r.json().await.unwrap();
        rows.into_iter()
            .map(|m| (m["email"].as_str().unwrap().to_owned(), m["role"].as_str().unwrap().to_owned()))
            .collect::<BTreeMap<_, _>>()
    };
    let keys = || async {
        let r = app.get(&format!("/api/v1/projects/{project}/api-keys"), &owner.access).await;
        r.json::<Vec<Value>>().await.unwrap()
    };
    let mut b = Browser::new(&app);
    b.sign_in("owner@example.org").await;
    let csrf = b.csrf();

    let r = b.get(&settings).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("owner@example.org") && r.body.contains("the only owner"), "{}", r.body);
    assert!(r.body.contains("<label for=\"member-email\">") && r.body.contains("<label for=\"key-name\">"));

    // The analyzer: the instance's default until chosen; a choice through the API's rules, and back.
    assert!(r.body.contains("<option value=\"\" selected>Default of this instance (offline)</option>"), "{}", r.body);
    let analyzer = || async {
        let p: Value = app.get(&format!("/api/v1/projects/{project}"), &owner.access).await.json().await.unwrap();
        p["analyzer"].clone()
    };
    let choose = format!("/ui/projects/{project}/analyzer");
    assert_eq!(b.form(&choose, &[("analyzer", "offline")]).await.status, StatusCode::FORBIDDEN, "no CSRF");
    let r = b.form(&choose, &[("analyzer", "offline"), ("csrf", csrf.as_str())]).await;
    assert_eq!(r.location.as_deref(), Some(format!("{settings}?done=analyzer-chosen").as_str()));
    assert_eq!(analyzer().await, "offline");
    let r = b.get(&format!("{settings}?done=analyzer-chosen")).await;
    assert!(
        r.body.contains("<option value=\"offline\" selected>offline</option>") && r.body.contains("role=\"status\"")
    );
    let r = b.form(&choose, &[("analyzer", "gpt-9"), ("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Not changed") && r.body.contains("no analyzer named"), "{}", r.body);
    assert_eq!(analyzer().await, "offline", "a refused choice changes nothing");
    let r = b.form(&choose, &[("analyzer", ""), ("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(analyzer().await, Value::Null, "back to the instance's default");

    // Inviting: an address with an account and one without are answered alike, and wait as pending invitations.
    let invite = format!("/ui/projects/{project}/invitations");
    let add = [("email", "Bob@Example.org"), ("role", "editor"), ("csrf", csrf.as_str())];
    assert_eq!(b.form(&invite, &add[..2]).await.status, StatusCode::FORBIDDEN, "no CSRF");
    let r = b.form(&invite, &[("email", "nobody@example.org"), ("role", "editor"), ("csrf", &csrf)]).await;
    assert_eq!(r.location.as_deref(), Some(format!("{settings}?done=invited").as_str()));
    let r = b.form(&invite, &add).await;
    assert_eq!(r.location.as_deref(), Some(format!("{settings}?done=invited").as_str()));
    let r = b.get(&format!("{settings}?done=invited")).await;
    assert!(r.body.contains("role=\"status\"") && r.body.contains("Pending invitations"));
    assert!(r.body.contains("<th scope=\"row\">bob@example.org</th>") && r.body.contains("nobody@example.org"));
    let r = b.form(&invite, &[("email", "viewer@example.org"), ("role", "editor"), ("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "already a member");
    assert!(r.body.contains("Not invited") && r.body.contains("value=\"viewer@example.org\""), "typed text kept");
    assert!(r.body.contains("<option value=\"editor\" selected>"), "the chosen role is kept");
    assert!(!members().await.contains_key("bob@example.org"), "not a member until accepted");

    // Bob sees the invitation on his projects page and accepts it there.
    let mut bob_browser = Browser::new(&app);
    bob_browser.sign_in("bob@example.org").await;
    let bcsrf = bob_browser.csrf();
    let r = bob_browser.get("/ui/projects").await;
    assert!(r.body.contains("Invitations for you") && r.body.contains("<strong>Team</strong>"), "{}", r.body);
    let accept = between(&r.body, "action=\"/ui/invitations/", "\"").unwrap().to_owned();
    let accept = format!("/ui/invitations/{accept}");
    assert_eq!(bob_browser.form(&accept, &[("csrf", "forged")]).await.status, StatusCode::FORBIDDEN);
    let r = bob_browser.form(&accept, &[("csrf", bcsrf.as_str())]).await;
    assert_eq!(r.location.as_deref(), Some(format!("/ui/projects/{project}").as_str()));
    assert_eq!(members().await.get("bob@example.org").map(String::as_str), Some("editor"));
    assert!(!bob_browser.get("/ui/projects").await.body.contains("Invitations for you"), "answered");

    let role = format!("/ui/projects/{project}/members/{}/role", bob.user);
    assert_eq!(b.form(&role, &[("role", "owner"), ("csrf", "forged")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(members().await["bob@example.org"], "editor");
    let r = b.form(&role, &[("role", "owner"), ("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(members().await["bob@example.org"], "owner");
    let r = b.form(&format!("/ui/projects/{project}/members/{}/remove", bob.user), &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.location.as_deref(), Some(format!("{settings}?done=member-removed").as_str()));
    assert!(!members().await.contains_key("bob@example.org"));
    // The last owner stays, with the API's reason.
    let r = b.form(&format!("/ui/projects/{project}/members/{}/remove", owner.user), &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("Not removed") && r.body.contains("at least one owner"), "{}", r.body);

    // A viewer can neither see the page nor act; a stranger does not learn that the project exists.
    let mut viewer = Browser::new(&app);
    viewer.sign_in("viewer@example.org").await;
    let vcsrf = viewer.csrf();
    assert_eq!(viewer.get(&settings).await.status, StatusCode::FORBIDDEN);
    let r = viewer
        .form(&format!("/ui/projects/{project}/api-keys"), &[("name", "mine"), ("role", "viewer"), ("csrf", &vcsrf)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = viewer
        .form(
            &format!("/ui/projects/{project}/invitations"),
            &[("email", "viewer@example.org"), ("role", "owner"), ("csrf", &vcsrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(members().await["viewer@example.org"], "viewer");
    let r = viewer.form(&choose, &[("analyzer", "offline"), ("csrf", &vcsrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(analyzer().await, Value::Null);
    assert!(!viewer.get(&format!("/ui/projects/{project}")).await.body.contains("/settings\""), "no link for viewers");
    // A member may leave on their own.
    let viewer_id = members_ids(&app, &owner, &project).await["viewer@example.org"].clone();
    let leave = format!("/ui/projects/{project}/members/{viewer_id}/remove");
    let r = viewer.form(&leave, &[("csrf", &vcsrf)]).await;
    assert_eq!(r.location.as_deref(), Some("/ui/projects?done=left"));
    assert!(!members().await.contains_key("viewer@example.org"));
    assert!(viewer.get("/ui/projects?done=left").await.body.contains("You left the project."));
    let mut stranger = Browser::new(&app);
    stranger.sign_in("stranger@example.org").await;
    assert_eq!(stranger.get(&settings).await.status, StatusCode::NOT_FOUND);
    assert!(keys().await.is_empty());

    // An API key: without a valid CSRF token nothing is made; then shown once, working, and revoked.
    let create = format!("/ui/projects/{project}/api-keys");
    assert_eq!(b.form(&create, &[("name", "ci"), ("role", "viewer")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        b.form(&create, &[("name", "ci"), ("role", "viewer"), ("csrf", "forged")]).await.status,
        StatusCode::FORBIDDEN
    );
    assert!(keys().await.is_empty());
    let r = b.form(&create, &[("name", "ci"), ("role", "viewer"), ("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let key = unescape(between(&r.body, "id=\"new-key\" type=\"text\" readonly value=\"", "\"").unwrap());
    assert!(key.starts_with("bnd_"), "{key}");
    let listed = keys().await;
    assert_eq!((listed.len(), listed[0]["name"].as_str(), listed[0]["role"].as_str()), (1, Some("ci"), Some("viewer")));
    let key_id = listed[0]["id"].as_str().unwrap().to_owned();
    assert!(listed[0]["last_used_ms"].is_null() && b.get(&settings).await.body.contains(">never<"));
    assert_eq!(app.get(&format!("/api/v1/projects/{project}"), &key).await.status(), StatusCode::OK);
    // The use is recorded off the request's path: it shows shortly after.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while keys().await[0]["last_used_ms"].is_null() {
        assert!(tokio::time::Instant::now() < deadline, "the key's use was never recorded");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let r = b.get(&settings).await;
    assert!(
        r.body.contains(&format!("data-key=\"{key_id}\"")) && !r.body.contains(&key[12..]),
        "the key is not shown again"
    );
    assert!(!r.body.contains(">never<"), "the time of its last use is shown");
    let revoke = format!("/ui/projects/{project}/api-keys/{key_id}/revoke");
    assert_eq!(b.form(&revoke, &[]).await.status, StatusCode::FORBIDDEN, "no CSRF field");
    assert_eq!(app.get(&format!("/api/v1/projects/{project}"), &key).await.status(), StatusCode::OK);
    let r = b.form(&revoke, &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.location.as_deref(), Some(format!("{settings}?done=key-revoked").as_str()));
    assert_eq!(app.get(&format!("/api/v1/projects/{project}"), &key).await.status(), StatusCode::UNAUTHORIZED);
    assert!(b.get(&settings).await.body.contains("revoked "));
    app.stop().await;
}

#[tokio::test]
async fn members_and_keys_from_the_ui_sqlite() {
    members_and_keys_from_the_ui(Backend::Sqlite).await;
}

#[tokio::test]
async fn members_and_keys_from_the_ui_postgres() {
    members_and_keys_from_the_ui(Backend::Postgres).await;
}

/// With no worker, uploaded books stay `processing`, so the cancel buttons can be checked at leisure.
#[tokio::test]
async fn cancel_from_the_ui() {
    let mut app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    app.stop_worker().await;
    let owner = app.user("owner@example.org", false).await;
    app.user("viewer@example.org", false).await;
    let project = app.project(&owner, "Slow").await;
    add_member(&app, &owner, &project, "viewer@example.org", "viewer").await;
    let doc = app.upload(&owner.access, &project, "one.txt", sample_book("elm")).await;
    let other = app.upload(&owner.access, &project, "two.txt", sample_book("ash")).await;
    let third = app.upload(&owner.access, &project, "three.txt", sample_book("yew")).await;
    let status = |id: String| {
        let app = &app;
        let token = owner.access.clone();
        async move {
            let d: Value = app.get(&format!("/api/v1/documents/{id}"), &token).await.json().await.unwrap();
            d["status"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(status(doc.clone()).await, "processing");
    let cancel = format!("/ui/books/{doc}/cancel");

    // A viewer gets no button, and the API's cancel refuses them.
    let mut viewer = Browser::new(&app);
    viewer.sign_in("viewer@example.org").await;
    let r = viewer.get(&format!("/ui/books/{doc}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains(&cancel), "{}", r.body);
    assert!(!viewer.get(&format!("/ui/projects/{project}")).await.body.contains(&cancel));
    let vcsrf = viewer.csrf();
    assert_eq!(viewer.form(&cancel, &[("csrf", vcsrf.as_str())]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(status(doc.clone()).await, "processing");

    // The owner gets it on the book and on the library card; the form needs the CSRF token.
    let mut b = Browser::new(&app);
    b.sign_in("owner@example.org").await;
    let r = b.get(&format!("/ui/books/{doc}")).await;
    assert!(r.body.contains(&format!("action=\"{cancel}\"")) && r.body.contains("Cancel processing"), "{}", r.body);
    let library = b.get(&format!("/ui/projects/{project}")).await.body;
    assert!(
        library.contains(&format!("action=\"{cancel}\""))
            && library.contains(&format!("action=\"/ui/books/{other}/cancel\""))
    );
    assert_eq!(b.form(&cancel, &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(b.form(&cancel, &[("csrf", "forged")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(status(doc.clone()).await, "processing");
    let csrf = b.csrf();
    let r = b.form(&cancel, &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.location.as_deref(), Some(format!("/ui/books/{doc}?cancelled=1").as_str()));
    assert_eq!(status(doc.clone()).await, "cancelled");
    let r = b.get(r.location.as_deref().unwrap()).await;
    assert!(r.body.contains("Cancelled: the pipeline stops") && !r.body.contains(&format!("action=\"{cancel}\"")));
    // Cancelling again is the API's conflict, shown as a page that says why.
    let r = b.form(&cancel, &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("Cannot do that") && r.body.contains("already cancelled"), "{}", r.body);

    // From the library card, back to the library; a `next` elsewhere is ignored.
    let library_path = format!("/ui/projects/{project}");
    let fields = [("csrf", csrf.as_str()), ("next", library_path.as_str())];
    let r = b.form(&format!("/ui/books/{other}/cancel"), &fields).await;
    assert_eq!(r.location.as_deref(), Some(library_path.as_str()));
    assert_eq!(status(other.clone()).await, "cancelled");
    let fields = [("csrf", csrf.as_str()), ("next", "https://evil.example/")];
    let r = b.form(&format!("/ui/books/{third}/cancel"), &fields).await;
    assert_eq!(r.location.as_deref(), Some("/ui/projects"), "never to another site");
    let library = b.get(&library_path).await.body;
    assert!(!library.contains("/cancel\""), "no cancel button on finished books");
    app.stop().await;
}
