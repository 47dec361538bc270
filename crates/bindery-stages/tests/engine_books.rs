//! The book pipeline end to end on real books (from `../shared/corpus`,
//! skipped when absent) and on hostile inputs generated on the fly.

// The engine's test harness, run here on the book's pipeline.
#[path = "../../bindery-engine/tests/common/mod.rs"]
mod common;

/// The pipelines `common::TestApp` runs: the book's.
fn registry() -> bindery_pipeline::Registry {
    bindery_stages::registry()
}

use bindery_core::{Book, DocumentState, DocumentStatus};
use bindery_stages::book::kinds;
use common::{assert_ready, corpus, Backend, TestApp};
use serde_json::json;

async fn book(app: &TestApp, s: &DocumentState) -> Book {
    let a = s.artifacts.iter().find(|a| a.kind == kinds::BOOK).expect("book artifact");
    serde_json::from_slice(&app.engine.blobs().get_bytes(&a.key, 1 << 30).await.unwrap()).unwrap()
}

async fn run(app: &TestApp, path: &std::path::Path) -> DocumentState {
    let sub = app.engine.submit(path).await.unwrap();
    app.drain(&app.engine).await;
    app.state(sub.id.as_str()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_pdf_has_its_twelve_chapters_and_every_artifact() {
    let Some(path) = corpus("pdfs/en-alice-in-wonderland.pdf") else { return };
    let app = TestApp::spawn(Backend::Sqlite, "").await.unwrap();
    let s = run(&app, &path).await;
    assert_ready(&s);
    let b = book(&app, &s).await;
    let titles: Vec<&str> = b.chapters.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(b.chapters.len(), 12, "{titles:?}");
    assert!(titles[0].contains("Down the Rabbit-Hole"), "{titles:?}");
    assert!(titles[11].contains("Alice") && titles[11].contains("Evidence"), "{titles:?}");
    assert_eq!((b.language.as_str(), b.pages), ("en", Some(92)));
    assert_eq!((b.title.as_deref(), b.author.as_deref()), (Some("Alice in Wonderland"), Some("Lewis Carroll")));
    assert!(b.chapters.iter().all(|c| c.words() > 500), "every chapter has its text");
    let text = b.chapters[0].text();
    assert!(text.contains("was beginning to get very tired"), "{}", &text[..300.min(text.len())]);
    for kind in
        [kinds::PAGES, kinds::BOOK, kinds::ANALYSIS, kinds::DICTIONARY, kinds::NARRATION_PREVIEW, kinds::THUMBNAILS]
    {
        assert!(s.artifacts.iter().any(|a| a.kind == kind), "missing {kind}");
    }
    assert_eq!(s.artifacts.iter().filter(|a| a.kind.starts_with("cover-")).count(), 6);
    assert_eq!(s.results["ocr"]["pages"], json!(0), "a born-digital PDF needs no OCR");
    assert_eq!(s.results["raster"]["pages"], json!(92));
    let hits = app.store.search("Cheshire", None, 5).await.unwrap();
    assert!(hits.iter().any(|h| h.document == s.id && h.chapter == 6), "{hits:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tour_du_monde_text_has_37_chapters_and_its_characters() {
    let Some(path) = corpus("books/fr-tour-du-monde-80-jours.txt") else { return };
    let app = TestApp::spawn(Backend::Sqlite, "").await.unwrap();
    let s = run(&app, &path).await;
    assert_ready(&s);
    let b = book(&app, &s).await;
    assert_eq!((b.chapters.len(), b.language.as_str()), (37, "fr"));
    let byline = (b.title.as_deref(), b.author.as_deref());
    assert_eq!(byline, (Some("Le Tour du Monde en 80 Jours"), Some("Jules Verne")), "from the Gutenberg header");
    let names = s.results["enrich"]["main_characters"].as_array().unwrap().clone();
    for who in ["Phileas Fogg", "Passepartout", "Fix"] {
        assert!(names.iter().any(|n| n.as_str().unwrap().contains(who)), "{who} not in {names:?}");
    }
    assert_eq!(s.results["narrate"]["voice"], json!("fr"));
}

/// Every hostile input ends `failed` with a reason that names the problem,
/// and the same worker goes on to process a good book.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_clearly_and_lose_nothing() {
    use bindery_pdf::fixtures;
    let app = TestApp::spawn(Backend::Sqlite, "").await.unwrap();
    let dir = app.dir.path();
    let mut cases: Vec<(std::path::PathBuf, &str)> = Vec::new();
    let encrypted = dir.join("encrypted.pdf");
    fixtures::encrypted_pdf(&encrypted);
    cases.push((encrypted, "encrypted"));
    let huge = dir.join("huge.pdf");
    fixtures::blank_pdf(&huge, 5_000);
    cases.push((huge, "the book has 5,000 pages; this instance accepts at most 3,000 (max-pages)"));
    let slip = dir.join("slip.epub");
    fixtures::zip_slip_epub(&slip);
    cases.push((slip, "points outside the book"));
    cases.push((app.file("bomb.png", &fixtures::png_bomb()), "100000"));
    cases.push((app.file("corrupt.pdf", b"%PDF-1.7\n1 0 obj <<garbage>>\n%%EOF\n"), "no readable pages"));
    cases.push((app.file("bad.txt", b"caf\xe9 au lait"), "not valid UTF-8"));
    cases.push((app.file("page.pdf", b"<!DOCTYPE html><html><body>404</body></html>"), "look like HTML"));
    cases.push((app.file("empty.pdf", b""), "empty"));
    if let Some(alice) = corpus("pdfs/en-alice-in-wonderland.pdf") {
        let cut = dir.join("truncated.pdf");
        fixtures::truncated(&alice, &cut, 0.4);
        cases.push((cut, "truncated"));
    }
    let mut ids = Vec::new();
    for (path, _) in &cases {
        ids.push(app.engine.submit(path).await.unwrap().id);
    }
    let good = app.file("good.md", &common::sample_markdown());
    let good = app.engine.submit(&good).await.unwrap().id;
    app.drain(&app.engine).await;
    for ((path, reason), id) in cases.iter().zip(&ids) {
        let s = app.state(id.as_str()).await;
        assert_eq!(s.status, DocumentStatus::Failed, "{}: {:?}", path.display(), s.error);
        let error = s.error.unwrap_or_default();
        assert!(error.contains(reason), "{}: {error:?} should mention {reason:?}", path.display());
        let attempts: i32 = s.stages.values().map(|st| st.failures).sum();
        assert!(attempts <= 1, "{}: a bad file is not retried ({attempts} failures)", path.display());
    }
    assert_ready(&app.state(good.as_str()).await);
}

/// Character error rate of the `ocr` artifact's pages against the ground
/// truth, next to the tesseract CLI's on the same images.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanned_pages_are_recognised_as_well_as_by_the_tesseract_cli() {
    let names = ["ocr/en/a020.tiff", "ocr/en/b013.tiff", "ocr/en/e021.tiff"];
    let Some(images) = names.iter().map(|n| corpus(n)).collect::<Option<Vec<_>>>() else { return };
    let app = TestApp::spawn(Backend::Sqlite, "").await.unwrap();
    let pdf = app.dir.path().join("scan.pdf");
    bindery_pdf::fixtures::scanned_pdf(&images.iter().map(|p| p.as_path()).collect::<Vec<_>>(), &pdf);
    let image = corpus("ocr/fr/").and_then(|dir| {
        std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|e| e == "jpg"))
    });
    let s = run(&app, &pdf).await;
    assert_ready(&s);
    assert_eq!(s.results["ocr"]["pages"], json!(3));
    let a = s.artifacts.iter().find(|a| a.kind == kinds::OCR).unwrap();
    let raw = app.engine.blobs().get_bytes(&a.key, 1 << 26).await.unwrap();
    let pages: Vec<serde_json::Value> =
        std::str::from_utf8(&raw).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (mut ours, mut cli) = (0.0, 0.0);
    for (page, image) in pages.iter().zip(&images) {
        let truth = std::fs::read_to_string(image.with_extension("gt.txt")).unwrap();
        let out = std::process::Command::new("tesseract")
            .args([image.to_str().unwrap(), "-", "-l", "eng+fra"])
            .env("OMP_THREAD_LIMIT", "1")
            .output()
            .expect("the tesseract CLI is installed by scripts/setup.sh");
        let (o, c) = (
            bindery_ocr::cer(&truth, page["text"].as_str().unwrap()),
            bindery_ocr::cer(&truth, &String::from_utf8_lossy(&out.stdout)),
        );
        eprintln!("{}: CER ours {o:.4}, tesseract CLI {c:.4}, confidence {}", image.display(), page["confidence"]);
        ours += o / images.len() as f64;
        cli += c / images.len() as f64;
    }
    eprintln!("mean CER: ours {ours:.4}, tesseract CLI {cli:.4}");
    assert!(ours <= cli + 0.005, "ours {ours:.4} vs CLI {cli:.4}");
    // An uploaded photo of a page goes through the same stage.
    if let Some(image) = image {
        let s = run(&app, &image).await;
        assert_ready(&s);
        let b = book(&app, &s).await;
        assert_eq!(b.language, "fr", "recognised French text");
        assert!(b.words() > 50, "{} words", b.words());
    }
}

/// EPUB chapters come from its table of contents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epub_chapters_come_from_its_table_of_contents() {
    let app = TestApp::spawn(Backend::Sqlite, "").await.unwrap();
    let para = |n: usize| -> Vec<String> {
        (0..n)
            .map(|i| format!("Paragraph {i} tells how the lighthouse keeper watched the grey sea all night long."))
            .collect()
    };
    let chapters = [("The Keeper", para(30)), ("The Storm", para(45)), ("Morning", para(20))];
    let path = app.dir.path().join("keeper.epub");
    bindery_pdf::fixtures::epub(&path, "The Lighthouse", &chapters);
    let s = run(&app, &path).await;
    assert_ready(&s);
    let b = book(&app, &s).await;
    let titles: Vec<&str> = b.chapters.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(titles, ["The Keeper", "The Storm", "Morning"]);
    for (c, (_, paragraphs)) in b.chapters.iter().zip(&chapters) {
        assert_eq!(c.paragraphs.len(), paragraphs.len(), "chapter {:?}", c.title);
    }
    assert_eq!(b.title.as_deref(), Some("The Lighthouse"));
    assert_eq!(b.author.as_deref(), Some("Test Author"));
}
