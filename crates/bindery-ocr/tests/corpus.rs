//! Accuracy proof on the ground-truth corpus: our engine must read every page about as well as the `tesseract` CLI
//! (same library, same models, same defaults), and the run prints how fast each is per page.
//!
//! Skips with a message when the corpus or the CLI is absent (fails under CI). Timings are printed only, never asserted.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bindery_ocr::{cer, recognize_pages, GreyImage, OcrError, OcrOptions, OcrPage};

/// Allowed margin on the mean CER per language; decoding differs slightly (the `image` crate here, leptonica there).
const MARGIN: f64 = 0.005;

fn corpus_dir() -> Option<PathBuf> {
    bindery_testkit::corpus("ocr").map(|_| bindery_testkit::corpus_root())
}

/// The images of one language directory whose name ends in one of `extensions`, each with its `*.gt.txt`, sorted.
fn samples(dir: &Path, extensions: &[&str]) -> Vec<(PathBuf, String)> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_else(|_| Vec::new());
    found.retain(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e)));
    found.sort();
    found
        .into_iter()
        .filter_map(|image| {
            let gt = std::fs::read_to_string(image.with_extension("gt.txt")).ok()?;
            Some((image, gt))
        })
        .collect()
}

fn decode(path: &Path) -> Result<GreyImage, OcrError> {
    let grey = image::open(path).map_err(|e| OcrError::Source(format!("{}: {e}", path.display())))?.to_luma8();
    Ok(GreyImage { width: grey.width(), height: grey.height(), pixels: grey.into_raw() })
}

/// `tesseract FILE - -l LANG` with one OpenMP thread, as a production CLI pipeline would run it.
fn cli(path: &Path, lang: &str) -> String {
    let out = Command::new("tesseract")
        .arg(path)
        .args(["-", "-l", lang])
        .env("OMP_THREAD_LIMIT", "1")
        .output()
        .expect("tesseract CLI runs");
    assert!(out.status.success(), "tesseract failed on {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("tesseract prints UTF-8")
}

/// Runs the CLI over all files with `parallel` processes at a time; returns the texts in file order and the wall time.
fn cli_all(files: &[PathBuf], lang: &str, parallel: usize) -> (Vec<String>, Duration) {
    let next = AtomicUsize::new(0);
    let texts = Mutex::new(vec![String::new(); files.len()]);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..parallel {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(path) = files.get(i) else { break };
                let text = cli(path, lang);
                texts.lock().unwrap()[i] = text;
            });
        }
    });
    (texts.into_inner().unwrap(), start.elapsed())
}

/// Our engine over all files through `recognize_pages` with 2 threads (decoding included, as for the CLI).
fn ours_all(files: &[PathBuf], lang: &str) -> (Vec<OcrPage>, Duration) {
    let opts = OcrOptions { languages: lang.into(), dpi: 300, datapath: None };
    let mut pages = Vec::new();
    let start = Instant::now();
    recognize_pages(&opts, 2, files.iter().map(|p| decode(p)), |index, result| {
        assert_eq!(index, pages.len(), "pages must arrive in order");
        pages.push(result.unwrap_or_else(|e| panic!("{}: {e}", files[index].display())));
    })
    .expect("engines initialise");
    (pages, start.elapsed())
}

struct LanguageRun {
    label: &'static str,
    pages: usize,
    cer_ours: f64,
    cer_cli: f64,
    ours: Duration,
    cli_sequential: Duration,
    cli_parallel: Duration,
}

fn run_language(label: &'static str, lang: &str, samples: &[(PathBuf, String)]) -> LanguageRun {
    let files: Vec<PathBuf> = samples.iter().map(|(p, _)| p.clone()).collect();
    let (ours, ours_time) = ours_all(&files, lang);
    let (cli_texts, cli_sequential) = cli_all(&files, lang, 1);
    let (_, cli_parallel) = cli_all(&files, lang, 2);

    println!("\n{label} ({lang}): {:<22} {:>9} {:>9} {:>6}", "file", "CER ours", "CER CLI", "conf");
    let (mut sum_ours, mut sum_cli) = (0.0, 0.0);
    for (((path, gt), page), cli_text) in samples.iter().zip(&ours).zip(&cli_texts) {
        let (c_ours, c_cli) = (cer(gt, &page.text), cer(gt, cli_text));
        sum_ours += c_ours;
        sum_cli += c_cli;
        let name = path.file_name().unwrap().to_string_lossy();
        println!("{:>14} {name:<22} {c_ours:>9.4} {c_cli:>9.4} {:>6.1}", "", page.confidence);
    }
    let n = samples.len() as f64;
    let run = LanguageRun {
        label,
        pages: samples.len(),
        cer_ours: sum_ours / n,
        cer_cli: sum_cli / n,
        ours: ours_time,
        cli_sequential,
        cli_parallel,
    };
    println!("{:>14} {:<22} {:>9.4} {:>9.4}", "", "MEAN", run.cer_ours, run.cer_cli);
    run
}

#[test]
fn engine_reads_corpus_as_well_as_the_cli() {
    let Some(corpus) = corpus_dir() else { return };
    if !bindery_testkit::tool("tesseract", "--version") {
        return;
    }
    let english = samples(&corpus.join("ocr/en"), &["tiff", "tif"]);
    let french = samples(&corpus.join("ocr/fr"), &["jpg"]);
    assert!(!english.is_empty() && !french.is_empty(), "corpus present but without images and ground truth");

    println!("tesseract {}", bindery_ocr::version());
    let runs = [run_language("English", "eng", &english), run_language("French", "fra", &french)];

    println!("\nseconds per page: ours (2 engines) | CLI sequential | CLI 2 at a time (OMP_THREAD_LIMIT=1)");
    for r in &runs {
        let per = |d: Duration| d.as_secs_f64() / r.pages as f64;
        println!(
            "{:<8} {:>2} pages: {:>6.2} | {:>6.2} | {:>6.2}",
            r.label,
            r.pages,
            per(r.ours),
            per(r.cli_sequential),
            per(r.cli_parallel)
        );
    }
    for r in &runs {
        assert!(
            r.cer_ours <= r.cer_cli + MARGIN,
            "{}: our mean CER {:.4} is worse than the CLI's {:.4} + {MARGIN}",
            r.label,
            r.cer_ours,
            r.cer_cli
        );
    }
}
