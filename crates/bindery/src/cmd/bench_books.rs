//! `bindery bench extract|ocr|books`: the book pipeline measured against
//! the reference tools, each run side by side in the same invocation so the
//! figures share the machine's state.

use super::bench::scratch;
use crate::config::Settings;
use anyhow::{bail, Context, Result};
use bindery_core::DocumentStatus;
use bindery_engine::worker::{Worker, WorkerOptions};
use bindery_pdf::layout::{paragraphs, reading_order, Furniture};
use bindery_pdf::{Doc, DocKind, OpenOptions};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// Pages per second on one core: our extraction (text with positions and
/// the reading-order layout) against `pdftotext` and PyMuPDF when present.
pub fn extract(file: &Path, rounds: u32, json_out: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let mut pages = 0u32;
    let mut chars = 0usize;
    for _ in 0..rounds {
        let doc = Doc::open(file, DocKind::Pdf, OpenOptions::default())?;
        let texts: Vec<_> = (1..=doc.page_count()).map(|n| doc.page_text(n)).collect::<Result<_, _>>()?;
        let mut furniture = Furniture::default();
        texts.iter().for_each(|p| furniture.learn(p));
        for p in &texts {
            let lines: Vec<_> = reading_order(p).into_iter().filter(|l| !furniture.is_furniture(p, l)).collect();
            chars += paragraphs(&lines, false).iter().map(|p| p.text.len()).sum::<usize>();
        }
        pages += doc.page_count();
    }
    let ours = pages as f64 / started.elapsed().as_secs_f64();
    let baseline = |program: &str, args: &[&str]| -> Option<f64> {
        let started = Instant::now();
        for _ in 0..rounds {
            let ok = Command::new(program).args(args).output().ok()?.status.success();
            if !ok {
                return None;
            }
        }
        Some(pages as f64 / started.elapsed().as_secs_f64())
    };
    let f = file.to_str().context("path is not UTF-8")?;
    let pdftotext = baseline("pdftotext", &["-layout", f, "/dev/null"]);
    // PyMuPDF times itself inside one interpreter, so Python's start-up
    // and import are not charged to it.
    let script = "import sys, time, fitz\nn = int(sys.argv[2]); pages = 0; t = time.perf_counter()\n\
                  for _ in range(n):\n    for p in fitz.open(sys.argv[1]):\n        p.get_text('dict'); pages += 1\n\
                  print(pages / (time.perf_counter() - t))";
    let pymupdf = Command::new("python3")
        .args(["-c", script, f, &rounds.to_string()])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok());
    report(
        json_out,
        json!({"bench": "extract", "file": f, "pages_per_round": pages / rounds.max(1), "rounds": rounds,
               "chars": chars / rounds.max(1) as usize, "bindery_pages_per_s": ours.round(),
               "pdftotext_pages_per_s": pdftotext.map(f64::round), "pymupdf_pages_per_s": pymupdf.map(f64::round)}),
    );
    Ok(ExitCode::SUCCESS)
}

/// Seconds per page with both cores busy, and character error rate where a
/// `NAME.gt.txt` lies beside an image: our OCR stage's engine pool against
/// the tesseract CLI run two at a time on the same images, and, in a build
/// with the `mupdf-ocr` feature, against MuPDF's own OCR path (which can only
/// use one thread, so ours runs once more on one thread beside it).
pub fn ocr(images: &[PathBuf], languages: &str, json_out: bool) -> Result<ExitCode> {
    if images.is_empty() {
        bail!("no images given");
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let opts = bindery_ocr::OcrOptions { languages: languages.into(), dpi: 300, datapath: None };
    let truth: Vec<Option<String>> =
        images.iter().map(|p| std::fs::read_to_string(p.with_extension("gt.txt")).ok()).collect();
    let decoded: Vec<_> = images
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p)?;
            let g = bindery_media::decode_grey_limited(&bytes, 100_000_000)?;
            let (width, height) = g.dimensions();
            Ok(bindery_ocr::GreyImage { width, height, pixels: g.into_raw() })
        })
        .collect::<Result<_>>()?;
    let widths: Vec<u32> = decoded.iter().map(|g| g.width).collect();
    let started = Instant::now();
    let mut ours = vec![String::new(); images.len()];
    let grey =
        if cfg!(any(feature = "mupdf-ocr", feature = "mupdf-ocr-bundled")) { decoded.clone() } else { Vec::new() };
    bindery_ocr::recognize_pages(&opts, threads, decoded.into_iter().map(Ok), |i, r| {
        ours[i] = r.expect("page recognised").text;
    })?;
    let ours_s = started.elapsed().as_secs_f64() / images.len() as f64;
    let started = Instant::now();
    let mut cli = Vec::new();
    for chunk in images.chunks(threads) {
        let children: Vec<_> = chunk
            .iter()
            .map(|p| {
                Command::new("tesseract")
                    .args([p.to_str().unwrap_or_default(), "-", "-l", languages])
                    .env("OMP_THREAD_LIMIT", "1")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
            })
            .collect::<Result<_, _>>()?;
        for c in children {
            cli.push(String::from_utf8_lossy(&c.wait_with_output()?.stdout).into_owned());
        }
    }
    let cli_s = started.elapsed().as_secs_f64() / images.len() as f64;
    let mupdf = mupdf_ocr(images, &widths, languages)?;
    // Ours on one thread too, to set beside MuPDF's single-threaded path.
    let ours_1 = if mupdf.is_some() {
        let started = Instant::now();
        bindery_ocr::recognize_pages(&opts, 1, grey.into_iter().map(Ok), |_, r| {
            r.expect("page recognised");
        })?;
        Some(started.elapsed().as_secs_f64() / images.len() as f64)
    } else {
        None
    };
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    // Mean CER over the pages that have ground truth.
    let cer = |texts: &[String]| -> Option<f64> {
        let pairs: Vec<_> = texts.iter().zip(&truth).filter_map(|(t, gt)| Some((t, gt.as_ref()?))).collect();
        let mean = pairs.iter().map(|(t, gt)| bindery_ocr::cer(gt, t)).sum::<f64>() / pairs.len().max(1) as f64;
        (!pairs.is_empty()).then_some((mean * 10_000.0).round() / 10_000.0)
    };
    report(
        json_out,
        json!({"bench": "ocr", "pages": images.len(), "threads": threads, "languages": languages,
               "bindery_s_per_page": round3(ours_s), "bindery_cer": cer(&ours),
               "tesseract_cli_s_per_page": round3(cli_s), "tesseract_cli_cer": cer(&cli),
               "bindery_1_thread_s_per_page": ours_1.map(round3),
               "mupdf_1_thread_s_per_page": mupdf.as_ref().map(|(s, _)| round3(*s)),
               "mupdf_cer": mupdf.as_ref().and_then(|(_, t)| cer(t))}),
    );
    Ok(ExitCode::SUCCESS)
}

/// MuPDF's OCR path (`bindery_pdf::MupdfOcr`) on one thread: seconds per
/// page and the texts in image order. One thread because MuPDF guards its
/// Leptonica hooks with process-wide state and refuses a second thread
/// ("Attempt to use Leptonica from 2 threads at once!"), so in one process
/// its OCR cannot use more than one core. `None` in a build without the
/// `mupdf-ocr` feature.
#[cfg(any(feature = "mupdf-ocr", feature = "mupdf-ocr-bundled"))]
fn mupdf_ocr(images: &[PathBuf], widths: &[u32], languages: &str) -> Result<Option<(f64, Vec<String>)>> {
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    // The same OpenMP setting as our engines: Tesseract's parallel regions stay on this thread.
    bindery_ocr::keep_openmp_on_this_thread();
    let mut ocr = bindery_pdf::MupdfOcr::new(&dir.path().join("ocr.pdf"), languages)?;
    for (image, width) in images.iter().zip(widths) {
        ocr.add_image(image, *width)?;
    }
    let texts = ocr.finish()?;
    Ok(Some((started.elapsed().as_secs_f64() / images.len() as f64, texts)))
}

#[cfg(not(any(feature = "mupdf-ocr", feature = "mupdf-ocr-bundled")))]
fn mupdf_ocr(_: &[PathBuf], _: &[u32], _: &str) -> Result<Option<(f64, Vec<String>)>> {
    Ok(None)
}

/// End to end: `count` distinct copies of one book (a comment appended
/// after the end marker makes each a new document) through the whole
/// pipeline on this machine. Reports throughput when they arrive at once,
/// and per-book latency when they arrive one at a time.
pub async fn books(
    s: &Settings,
    file: &Path,
    count: usize,
    concurrency: usize,
    samples: usize,
    json_out: bool,
) -> Result<ExitCode> {
    let (engine, dir) = scratch(s).await?;
    let copies = copies(dir.path(), file, 0..count + samples)?;
    let opts = WorkerOptions { concurrency, exit_when_idle: true, ..WorkerOptions::default() };
    // Saturated: everything submitted, then drained.
    let started = Instant::now();
    let mut ids = Vec::new();
    for p in &copies[..count] {
        ids.push(engine.submit(p).await?.id);
    }
    Worker::new(engine.clone(), opts.clone()).run().join().await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut failed = 0;
    for id in &ids {
        let st = engine.store().document(id.as_str()).await?.context("document")?;
        failed += (st.status != DocumentStatus::Ready) as usize;
    }
    // One at a time, on an idle worker: the latency a book sees off peak.
    let latencies = latencies(&engine, &copies[count..], concurrency).await?;
    let pct = |q: f64| {
        latencies.get(((latencies.len().max(1) - 1) as f64 * q).round() as usize).map(|s| (s * 100.0).round() / 100.0)
    };
    report(
        json_out,
        json!({"bench": "books", "file": file.display().to_string(), "books": count, "failed": failed,
               "concurrency": concurrency, "seconds": (elapsed * 10.0).round() / 10.0,
               "books_per_hour": (count as f64 / elapsed * 3600.0).round(),
               "idle_latency_s": {"samples": latencies.len(), "p50": pct(0.5), "max": pct(1.0)},
               "peak_rss_mb": peak_rss_mb()}),
    );
    Ok(ExitCode::SUCCESS)
}

/// Seconds each of `copies` took through the whole pipeline, submitted one
/// at a time to an idle worker, sorted.
async fn latencies(engine: &bindery_engine::Engine, copies: &[PathBuf], concurrency: usize) -> Result<Vec<f64>> {
    let mut latencies = Vec::new();
    let opts = WorkerOptions { concurrency, exit_when_idle: false, ..WorkerOptions::default() };
    let worker = Worker::new(engine.clone(), opts).run();
    for p in copies {
        let t = Instant::now();
        let id = engine.submit(p).await?.id;
        loop {
            let st = engine.store().document(id.as_str()).await?.context("document")?;
            if st.status.is_terminal() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        latencies.push(t.elapsed().as_secs_f64());
    }
    worker.shutdown().await;
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

/// `count` distinct copies of `file` in `dir` (a trailing comment each, so
/// no upload is a duplicate of another) through the whole pipeline one at a
/// time, as [`latencies`] runs them.
pub async fn one_at_a_time(
    engine: &bindery_engine::Engine,
    dir: &Path,
    file: &Path,
    count: usize,
    concurrency: usize,
) -> Result<Vec<f64>> {
    let copies = copies(dir, file, 0..count)?;
    latencies(engine, &copies, concurrency).await
}

/// Copies `range` of `file` in `dir`, each made distinct by a trailing comment.
fn copies(dir: &Path, file: &Path, range: std::ops::Range<usize>) -> Result<Vec<PathBuf>> {
    let bytes = std::fs::read(file)?;
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("pdf");
    range
        .map(|i| {
            let p = dir.join(format!("copy-{i}.{ext}"));
            let mut b = bytes.clone();
            b.extend_from_slice(format!("\n% bench copy {i}\n").as_bytes());
            std::fs::write(&p, b).map(|_| p).map_err(Into::into)
        })
        .collect()
}

/// This process's peak resident memory, from the kernel.
pub fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb / 1024)
}

pub(super) fn report(json_out: bool, v: serde_json::Value) {
    if json_out {
        println!("{v}");
    } else {
        for (k, val) in v.as_object().into_iter().flatten() {
            println!("{k:<28} {val}");
        }
    }
}
