//! The web UI end to end, in a real browser: headless Chromium driven through chromedriver (WebDriver, with
//! `fantoccini`) against the real service and worker. A person's path: sign in through the form, create a project,
//! upload the Alice PDF through the page's file input, watch its progress bars reach "ready", open the book, see its
//! chapters and characters, play the narration, search a word, sign out. Screenshots are saved under
//! `$CARGO_TARGET_TMPDIR/ui-screenshots/` and checked: the page is not blank and the cover is a picture, not a flat
//! colour.
//!
//! Skipped with a message when the corpus (`../shared`, or `BINDERY_CORPUS`) is absent, and when Chromium or
//! chromedriver are not installed, unless `CI` is set: there, a missing browser is a failure
//! (`scripts/setup.sh --test` installs both).

mod common;

use common::{Backend, TestApp, PASSWORD};
use fantoccini::{Client, ClientBuilder, Locator};
use image::{GenericImageView, RgbaImage};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn alice() -> Option<PathBuf> {
    Some(bindery_testkit::corpus("pdfs/en-alice-in-wonderland.pdf")?.canonicalize().unwrap())
}

fn browser_installed() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    bindery_testkit::require(
        present,
        format_args!("{CHROMIUM} or {CHROMEDRIVER} is not installed (scripts/setup.sh --test)"),
    )
}

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // In a process group of its own, so that dropping it also ends the Chromium it started, even when the test
        // fails before the browser session is closed.
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver listens within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
    }

    async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--autoplay-policy=no-user-gesture-required",
                         "--disable-dev-shm-usage", "--window-size=1280,1000", "--force-device-scale-factor=1"],
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls a script until it returns `true`; panics with `what` after `timeout`.
async fn until(browser: &Client, what: &str, timeout: Duration, script: &str) {
    let deadline = Instant::now() + timeout;
    loop {
        if browser.execute(script, vec![]).await.unwrap() == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn path(browser: &Client) -> String {
    browser.current_url().await.unwrap().path().to_owned()
}

/// Saves a screenshot of the viewport and returns it decoded.
async fn screenshot(browser: &Client, name: &str) -> RgbaImage {
    let png = browser.screenshot().await.unwrap();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    image::load_from_memory(&png).unwrap().to_rgba8()
}

/// Distinct colours (quantised to 5 bits per channel) in a rectangle of the image.
fn colours(img: &RgbaImage, (x, y, w, h): (u32, u32, u32, u32)) -> usize {
    let view = img.view(x, y, w.min(img.width() - x), h.min(img.height() - y));
    view.pixels().map(|(_, _, p)| (p[0] >> 3, p[1] >> 3, p[2] >> 3)).collect::<HashSet<_>>().len()
}

/// The on-screen rectangle of the element matching `css`, in screenshot pixels.
async fn rect(browser: &Client, css: &str) -> (u32, u32, u32, u32) {
    let script = format!(
        "const r = document.querySelector({css:?}).getBoundingClientRect(); const s = window.devicePixelRatio;\
         return [r.x * s, r.y * s, r.width * s, r.height * s];"
    );
    let v = browser.execute(&script, vec![]).await.unwrap();
    let n = |i: usize| v[i].as_f64().unwrap().max(0.0).round() as u32;
    (n(0), n(1), n(2), n(3))
}

async fn text(browser: &Client, css: &str) -> String {
    browser.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uploads_reads_listens_and_searches() {
    let Some(pdf) = alice() else { return };
    if !browser_installed() {
        return;
    }
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    bindery_api::create_user_record(&app.state, "reader@example.org", PASSWORD, false).await.unwrap();
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    let base = app.base.clone();

    // Signing in: the root sends a stranger to the login form, which comes back to the projects.
    browser.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(path(&browser).await, "/ui/login");
    browser.find(Locator::Css("#email")).await.unwrap().send_keys("reader@example.org").await.unwrap();
    browser.find(Locator::Css("#password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    browser.find(Locator::Css("#login button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#project-name")).await.unwrap();
    assert_eq!(path(&browser).await, "/ui/projects");
    let cookies: Value = browser.execute("return document.cookie;", vec![]).await.unwrap();
    let cookies = cookies.as_str().unwrap();
    assert!(
        cookies.contains("bindery_csrf=") && !cookies.contains("bindery_access"),
        "only the CSRF cookie is readable: {cookies}"
    );

    // A project, then the upload through the page's file input.
    browser.find(Locator::Css("#project-name")).await.unwrap().send_keys("Alice's shelf").await.unwrap();
    browser.find(Locator::Css("form[action='/ui/projects'] button")).await.unwrap().click().await.unwrap();
    let input = browser.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#files")).await.unwrap();
    assert_eq!(text(&browser, "h1").await, "Alice's shelf");
    input.send_keys(pdf.to_str().unwrap()).await.unwrap();
    until(
        &browser,
        "the upload bar to fill",
        Duration::from_secs(60),
        "const b = document.querySelector('.upload-progress'); return !!b && b.value === 100;",
    )
    .await;
    until(
        &browser,
        "the pipeline to start",
        Duration::from_secs(60),
        "return document.querySelectorAll('.stages li').length > 5;",
    )
    .await;
    let progress = screenshot(&browser, "1-upload-progress").await;
    assert!(colours(&progress, (0, 0, progress.width(), progress.height())) > 20, "the upload page is not blank");
    until(
        &browser,
        "the book to be ready",
        Duration::from_secs(600),
        "const i = document.querySelector('.upload-item'); return !!i && (i.dataset.status === 'ready' || i.dataset.status === 'failed');",
    )
    .await;
    let item = browser.find(Locator::Css(".upload-item")).await.unwrap();
    assert_eq!(item.attr("data-status").await.unwrap().as_deref(), Some("ready"), "{}", item.text().await.unwrap());
    let bar: Value =
        browser.execute("return document.querySelector('.pipeline-progress').value;", vec![]).await.unwrap();
    assert_eq!(bar, json!(100));
    let pending: Value =
        browser.execute("return document.querySelectorAll('.stages li:not(.done)').length;", vec![]).await.unwrap();
    assert_eq!(pending, json!(0), "every stage is ticked off by the live stream");
    screenshot(&browser, "2-upload-ready").await;

    // The book: cover, title, chapters, characters, narration.
    browser.find(Locator::Css(".upload-item a.open")).await.unwrap().click().await.unwrap();
    browser.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#book-title")).await.unwrap();
    let book_path = path(&browser).await;
    assert!(book_path.starts_with("/ui/books/"), "{book_path}");
    assert!(text(&browser, "#book-title").await.contains("Alice"), "the title");
    let chapters = browser.find_all(Locator::Css("#chapters li.chapter")).await.unwrap();
    assert!(chapters.len() >= 10, "Alice has twelve chapters, the page shows {}", chapters.len());
    assert!(text(&browser, "#chapters").await.contains("Rabbit"), "chapter titles and summaries are shown");
    let characters = text(&browser, "#characters table").await;
    assert!(characters.contains("Alice"), "characters: {characters}");
    assert!(!browser.find_all(Locator::Css("#dictionary tbody tr")).await.unwrap().is_empty(), "the dictionary");
    assert!(text(&browser, "#downloads").await.contains("narration-preview"), "downloads list the narration");

    until(
        &browser,
        "the cover to load",
        Duration::from_secs(30),
        "const c = document.querySelector('#cover'); return !!c && c.complete && c.naturalWidth > 0;",
    )
    .await;
    browser.execute("window.scrollTo(0, 0);", vec![]).await.unwrap();
    let shot = screenshot(&browser, "3-book").await;
    let cover = rect(&browser, "#cover").await;
    assert!(cover.2 > 100 && cover.3 > 150, "the cover is shown at a readable size: {cover:?}");
    assert!(colours(&shot, cover) > 30, "the cover's rectangle is a picture, not a flat colour: {cover:?}");
    assert!(colours(&shot, (0, 0, shot.width(), shot.height())) > 50, "the book page is not blank");

    // The narration plays from the artifacts route (with Range), and time advances without a media error.
    let played: Value = browser
        .execute(
            "const a = document.getElementById('narration'); a.muted = true;\
             return a.play().then(() => 'playing', (e) => String(e));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(played, json!("playing"));
    until(
        &browser,
        "the narration to advance",
        Duration::from_secs(30),
        "const a = document.getElementById('narration'); return a.error === null && a.currentTime > 0.5;",
    )
    .await;
    let media: Value = browser
        .execute("const a = document.getElementById('narration'); return [a.error === null, a.duration];", vec![])
        .await
        .unwrap();
    assert_eq!(media[0], json!(true));
    assert!(media[1].as_f64().unwrap() > 10.0, "a preview of about a minute: {media}");

    // A phone: the same page fits the width, without sideways scrolling.
    browser.set_window_size(390, 844).await.unwrap();
    browser.refresh().await.unwrap();
    browser.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#book-title")).await.unwrap();
    let fits: Value =
        browser.execute("return document.documentElement.scrollWidth <= window.innerWidth;", vec![]).await.unwrap();
    screenshot(&browser, "4-book-phone").await;
    assert_eq!(fits, json!(true), "no horizontal scrolling at phone width");
    browser.set_window_size(1280, 1000).await.unwrap();

    // Search: the word is found and highlighted.
    browser.goto(&format!("{base}/ui/search")).await.unwrap();
    let q = browser.find(Locator::Css("#q")).await.unwrap();
    q.send_keys("rabbit").await.unwrap();
    browser.find(Locator::Css("form[role=search] button")).await.unwrap().click().await.unwrap();
    let mark = browser.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#hits mark")).await.unwrap();
    assert_eq!(mark.text().await.unwrap().to_lowercase(), "rabbit");
    assert!(text(&browser, "#hits").await.contains("Alice"), "the hit names its book");
    let shot = screenshot(&browser, "5-search").await;
    let marked = rect(&browser, "#hits mark").await;
    assert!(colours(&shot, marked) > 1, "the highlight is drawn: {marked:?}");

    // Keyboard: the first Tab reaches the skip link, with a visible focus outline.
    browser.goto(&format!("{base}/ui/projects")).await.unwrap();
    browser.execute("document.activeElement && document.activeElement.blur();", vec![]).await.unwrap();
    browser.active_element().await.unwrap().send_keys("\u{e004}").await.unwrap();
    let focus: Value = browser
        .execute("const e = document.activeElement; return [e.className, getComputedStyle(e).outlineStyle];", vec![])
        .await
        .unwrap();
    assert_eq!(focus[0], json!("skip"), "{focus}");
    assert_ne!(focus[1], json!("none"), "focus is visible");

    // Signing out clears the session: the projects page sends us back to the form.
    browser.find(Locator::Css(".signout button")).await.unwrap().click().await.unwrap();
    browser.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#login")).await.unwrap();
    browser.goto(&format!("{base}/ui/projects")).await.unwrap();
    assert_eq!(path(&browser).await, "/ui/login");

    browser.close().await.unwrap();
    drop(driver);
    app.stop().await;
}
