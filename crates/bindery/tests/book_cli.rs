//! The book commands through the real binary on the Alice PDF from the
//! corpus (skipped when `../shared/corpus` is absent, failed under CI): `process`, `show
//! --json`, `search`, `export`, `dictionary`, `narrate` and `pages`.

mod harness;

use harness::{stdout_json, Cli};
use std::io::Read;
use std::path::PathBuf;

fn alice() -> Option<PathBuf> {
    bindery_testkit::corpus("pdfs/en-alice-in-wonderland.pdf")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_through_every_book_command() {
    let Some(pdf) = alice() else { return };
    let cli = Cli::sqlite().await;
    let out = cli.run(&["process", "--json", pdf.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = stdout_json(&out)[0]["id"].as_str().unwrap().to_owned();

    let shown: serde_json::Value = serde_json::from_slice(&cli.run(&["show", &id, "--json"]).stdout).unwrap();
    assert_eq!(
        (shown["status"].as_str(), shown["language"].as_str(), shown["pages"].as_u64()),
        (Some("ready"), Some("en"), Some(92))
    );
    let chapters = shown["chapters"].as_array().unwrap();
    assert_eq!(chapters.len(), 12);
    for c in chapters {
        assert!(c["index"].is_u64() && c["title"].is_string() && c["words"].as_u64().unwrap() > 500, "{c}");
        assert!(!c["summary"].as_str().unwrap().is_empty(), "{c}");
    }
    let characters = shown["characters"].as_array().unwrap();
    assert!(characters.iter().any(|c| c["name"] == "Alice" && c["mentions"].as_u64().unwrap() > 300), "{characters:?}");
    assert!(characters.iter().all(|c| c["aliases"].is_array()));
    assert!(shown["places"].is_array());
    for a in shown["artifacts"].as_array().unwrap() {
        assert!(a["kind"].is_string() && a["key"].is_string() && a["bytes"].is_u64() && a["media_type"].is_string());
    }

    let hits = stdout_json(&cli.run(&["search", "Cheshire Cat", "--json"]));
    assert!(hits.iter().any(|h| h["document"] == id.as_str() && h["chapter"] == 6), "{hits:?}");
    assert!(hits[0]["snippet"].as_str().unwrap().contains("[["), "{hits:?}");

    let json_path = cli.dir.path().join("alice.json");
    assert!(cli.run(&["export", &id, "--format", "json", "-o", json_path.to_str().unwrap()]).status.success());
    let exported: serde_json::Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(exported["chapters"].as_array().unwrap().len(), 12);
    assert!(exported["chapters"][0]["paragraphs"].as_array().unwrap().len() > 10, "export carries the text");
    let md_path = cli.dir.path().join("alice.md");
    assert!(cli.run(&["export", &id, "--format", "md", "-o", md_path.to_str().unwrap()]).status.success());
    let md = std::fs::read_to_string(&md_path).unwrap();
    assert_eq!(md.matches("\n## ").count(), 12, "one heading per chapter");
    let zip_path = cli.dir.path().join("alice.zip");
    assert!(cli.run(&["export", &id, "--format", "zip", "-o", zip_path.to_str().unwrap()]).status.success());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    for wanted in [
        "book.json",
        "book.md",
        "covers/cover-480.webp",
        "covers/cover-1200.jpg",
        "audio/preview.ogg",
        "dictionary.json",
    ] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} missing from {names:?}");
    }
    let mut ogg = Vec::new();
    zip.by_name("audio/preview.ogg").unwrap().read_to_end(&mut ogg).unwrap();
    assert!(ogg.starts_with(b"OggS"));

    let entry = stdout_json(&cli.run(&["dictionary", &id, "curious", "--json"]));
    assert_eq!(entry[0]["lemma"], "curious");
    assert!(!entry[0]["definitions"].as_array().unwrap().is_empty());

    let audio = cli.dir.path().join("ch2.ogg");
    let out = cli.run(&["narrate", &id, "--chapter", "2", "-o", audio.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read(&audio).unwrap().starts_with(b"OggS"));
    assert!(!cli.run(&["narrate", &id, "--chapter", "13"]).status.success(), "no chapter 13");

    let pages = cli.dir.path().join("pages");
    let out = cli.run(&["pages", &id, "--dpi", "50", "--range", "13-14", "-o", pages.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(pages.join("page-0013.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    assert!(pages.join("page-0014.png").exists() && !pages.join("page-0015.png").exists());
}
