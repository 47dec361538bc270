//! Hostile files through the real binary (issue 13): files made to overflow
//! MuPDF's stack, loop for hours or take gigabytes fail their own document
//! at the first attempt with a reason the uploader can act on, while the
//! same worker process carries on and finishes a good PDF and a good text
//! beside them. The limits are set small so the test takes seconds.

mod harness;

use bindery_pdf::fixtures;
use harness::{stdout_json, Cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_fail_their_document_once_and_the_worker_carries_on() {
    let cli = Cli::sqlite().await;
    let dir = cli.dir.path();
    let mut cases: Vec<(std::path::PathBuf, &str)> = Vec::new();
    let outline = dir.join("outline.pdf");
    fixtures::deep_outline_pdf(&outline, 20_000);
    cases.push((outline, "outline (bookmarks) is nested more than 256 levels deep"));
    for depth in [1_500, 100_000] {
        let nested = dir.join(format!("nested-{depth}.epub"));
        fixtures::nested_epub(&nested, depth);
        cases.push((nested, "nests its elements more than 256 levels deep"));
    }
    let bomb = dir.join("xobjects.pdf");
    fixtures::xobject_bomb_pdf(&bomb);
    cases.push((bomb, "reading this file took longer than 3 s (the limit set by parse-timeout-secs)"));
    let huge = dir.join("huge.epub");
    fixtures::huge_chapter_epub(&huge, 64 << 20);
    cases.push((huge, "reading this file needed more than 256 MiB of memory (the limit set by parse-memory-mb)"));
    let good_pdf = dir.join("good.pdf");
    fixtures::deep_outline_pdf(&good_pdf, 3);
    let good_text = cli.books(1).remove(0);

    let mut args = vec!["process", "--json", "--parse-memory-mb", "256", "--parse-timeout-secs", "3"];
    let paths: Vec<String> = cases.iter().map(|(p, _)| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let (good_pdf, good_text) = (good_pdf.display().to_string(), good_text.display().to_string());
    args.extend([good_pdf.as_str(), good_text.as_str()]);
    let out = cli.run(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let docs = stdout_json(&out);
    assert_eq!(docs.len(), cases.len() + 2, "one line per file; stderr: {stderr}");

    let store = cli.store().await;
    for ((path, reason), doc) in cases.iter().zip(&docs) {
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(doc["status"], "failed", "{name}: {doc}");
        let error = doc["error"].as_str().unwrap_or_default();
        assert!(error.contains(reason), "{name}: {error:?} should say {reason:?}");
        let events = store.read_stream(doc["id"].as_str().unwrap(), 0, 1_000).await.unwrap();
        let failures = events.iter().filter(|e| e.ty == "stage.failed").count();
        assert_eq!(failures, 1, "{name}: failed at the first attempt, not after retries");
    }
    for doc in &docs[cases.len()..] {
        assert_eq!(doc["status"], "ready", "{doc}; stderr: {stderr}");
    }
}

/// A PDF whose text reads cleanly but whose one image needs far more memory
/// than the limit to decode: before rendering moved into the child, the
/// worker itself decoded it (`raster`, `cover`), unbounded. Now the
/// document fails at its first attempt with the page named and the setting
/// to raise, and a good PDF in the same run is still made ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_too_large_to_render_fails_its_document_and_the_worker_carries_on() {
    let cli = Cli::sqlite().await;
    let dir = cli.dir.path();
    let huge = dir.join("huge-image.pdf");
    // 12,000² grey pixels for the image and again for its mask: about 290 MB.
    fixtures::huge_image_pdf(&huge, 12_000);
    let good = dir.join("good.pdf");
    fixtures::deep_outline_pdf(&good, 3);
    let (huge, good) = (huge.display().to_string(), good.display().to_string());
    let out = cli.run(&["process", "--json", "--parse-memory-mb", "200", huge.as_str(), good.as_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let docs = stdout_json(&out);
    assert_eq!(docs.len(), 2, "one line per file; stderr: {stderr}");
    let error = docs[0]["error"].as_str().unwrap_or_default();
    assert_eq!(docs[0]["status"], "failed", "{}", docs[0]);
    assert!(error.contains("page 1 needs more than 200 MiB to render (the limit set by parse-memory-mb)"), "{error:?}");
    let events = cli.store().await.read_stream(docs[0]["id"].as_str().unwrap(), 0, 1_000).await.unwrap();
    // `raster` and `cover` both render page 1 and may run at the same time; each fails at its first attempt.
    let failed: Vec<_> = events.iter().filter(|e| e.ty == "stage.failed").map(|e| e.data["stage"].clone()).collect();
    assert!(!failed.is_empty(), "a stage failed");
    assert!(failed.iter().all(|s| failed.iter().filter(|t| *t == s).count() == 1), "retried: {failed:?}");
    assert_eq!(docs[1]["status"], "ready", "{}; stderr: {stderr}", docs[1]);
}

/// One page of a book is a strip 20 points wide and 14,400 tall: its
/// thumbnails would be taller than the pixel limit and than WebP allows.
/// That page goes without thumbnails, the document says so in its
/// warnings, and the book is ready (it used to fail whole in `raster`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_oversized_page_goes_without_thumbnails_and_the_book_is_ready_with_a_warning() {
    let cli = Cli::sqlite().await;
    let tall = cli.dir.path().join("tall.pdf");
    fixtures::tall_page_pdf(&tall, 14_400);
    let tall = tall.display().to_string();
    let out = cli.run(&["process", "--json", tall.as_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let docs = stdout_json(&out);
    assert_eq!(docs.len(), 1, "stderr: {stderr}");
    assert_eq!(docs[0]["status"], "ready", "{}; stderr: {stderr}", docs[0]);
    let warnings = docs[0]["warnings"].as_array().expect("warnings listed");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = warnings[0].as_str().unwrap();
    assert!(warning.starts_with("no thumbnail for page 2: "), "{warning}");
    assert!(warning.contains("pixels"), "{warning}");
}
