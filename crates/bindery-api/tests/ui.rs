//! The web UI over plain HTTP, as a browser would speak it (cookies kept by hand, redirects not followed): the
//! login form and its cookies, transparent refresh, logout; the CSRF rule for cookie-authenticated API calls and
//! forms; pages refusing what the API refuses; the library's cursor pages; assets and security headers.

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
    assert!(r.body.contains("managed through the API"));
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
