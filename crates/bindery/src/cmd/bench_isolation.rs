//! `bindery bench isolation FILE`: what parsing uploads in sandbox children
//! costs a book, measured in one invocation so that every figure shares the
//! machine's state.
//!
//! The work the stages hand to children (`extract`'s pages, `raster`'s
//! thumbnails rendered and encoded, `cover`'s first page) is done for the
//! same file both ways, alternately: in this process, as the stages did
//! before isolation, and in children exactly as the stages now make them. The difference is the
//! price of isolation; beside it, the whole pipeline's time for the same
//! book, one at a time on an idle worker, is what that price is a share of.

use super::bench::scratch;
use super::bench_books::one_at_a_time;
use crate::config::Settings;
use anyhow::{Context, Result};
use bindery_pdf::{Doc, DocKind};
use bindery_stages::book::{first_page_job, thumbnail_batches, MAX_THUMBNAIL_HEIGHT, THUMBNAIL_WIDTHS};
use bindery_stages::sandbox::{child::run_here, RenderJob, RenderSize, Request};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

pub async fn isolation(s: &Settings, file: &Path, rounds: u32, json_out: bool) -> Result<ExitCode> {
    // Medians need at least one run.
    let rounds = rounds.max(1);
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("epub") => DocKind::Epub,
        _ => DocKind::Pdf,
    };
    let dir = tempfile::tempdir()?;
    // The stages name the file they hand a child by its format, as MuPDF wants.
    let source = dir.path().join(if kind == DocKind::Epub { "source.epub" } else { "source.pdf" });
    std::fs::copy(file, &source).with_context(|| format!("copying {}", file.display()))?;
    let scratch_dir = dir.path().join("pages");
    std::fs::create_dir(&scratch_dir)?;
    let sandbox = crate::sandbox(s)?;
    let limits = s.limits.clone();
    let pages = Doc::open(&source, kind, limits.clone())?.page_count();
    let batches = thumbnail_batches(pages, &[]);
    let extract = || Request::Extract {
        source: source.clone(),
        kind,
        out: dir.path().join("pages.jsonl"),
        limits: limits.clone(),
    };

    let (mut here, mut children) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let started = Instant::now();
        run_here(extract()).map_err(anyhow::Error::msg)?;
        let doc = Doc::open(&source, kind, limits.clone())?;
        for &page in batches.iter().flatten() {
            for width in THUMBNAIL_WIDTHS {
                let raster = doc.render_rgb(page, width)?;
                let image = bindery_media::image::RgbImage::from_raw(raster.width, raster.height, raster.pixels)
                    .context("a malformed page image")?;
                bindery_media::encode(&image, bindery_media::ImageFormat::Webp)?;
            }
        }
        let doc = Doc::open(&source, kind, limits.clone())?;
        render_here(&doc, &first_page_job());
        here.push(started.elapsed());

        let started = Instant::now();
        sandbox.run(&extract()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        for batch in &batches {
            let (written, _) = sandbox
                .thumbnails(&source, kind, &scratch_dir, batch, &THUMBNAIL_WIDTHS, MAX_THUMBNAIL_HEIGHT)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for (_, path) in written {
                drop(std::fs::read(&path)?);
                std::fs::remove_file(&path)?;
            }
        }
        sandbox
            .render(&source, kind, &scratch_dir, &[first_page_job()], true)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        children.push(started.elapsed());
    }

    // The whole pipeline, one book at a time on an idle worker: its wall time, and the processor time it takes
    // (this process and the children it reaped), which is what bounds books per hour on a busy worker.
    let (engine, books_dir) = scratch(s).await?;
    let cpu_before = cpu_time();
    let latencies = one_at_a_time(&engine, books_dir.path(), file, rounds as usize, 2).await?;
    let book_cpu = (cpu_time() - cpu_before) / rounds as f64;
    let (here, children) = (median(here), median(children));
    let book = Duration::from_secs_f64(latencies[latencies.len() / 2]);
    let cost = children.saturating_sub(here);
    let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
    super::bench_books::report(
        json_out,
        json!({"bench": "isolation", "file": file.display().to_string(), "pages": pages, "rounds": rounds,
               "child": child_name(sandbox.options()),
               "children_per_book": 1 + batches.len() + 1,
               "in_process_ms": ms(here), "in_children_ms": ms(children), "isolation_cost_ms": ms(cost),
               "whole_book_ms": ms(book), "whole_book_cpu_ms": (book_cpu * 10_000.0).round() / 10.0,
               "cost_share_of_book_pct": (cost.as_secs_f64() / book.as_secs_f64() * 1000.0).round() / 10.0,
               "cost_share_of_book_cpu_pct": (cost.as_secs_f64() / book_cpu * 1000.0).round() / 10.0}),
    );
    Ok(ExitCode::SUCCESS)
}

/// The child program as a command line without the request: `bindery-parse`, or `bindery __parse` when the
/// small program is missing or from another build.
fn child_name(o: &bindery_stages::SandboxOptions) -> String {
    let program = o.program.file_name().unwrap_or_default().to_string_lossy();
    o.args.iter().fold(program.into_owned(), |line, arg| format!("{line} {}", arg.to_string_lossy()))
}

/// Renders one page image in memory, as the stages did in the worker. A
/// page MuPDF refuses is skipped both ways, so its error is dropped.
fn render_here(doc: &Doc, job: &RenderJob) {
    let _ = match job.size {
        RenderSize::GreyDpi(dpi) => doc.render_grey(job.page, dpi),
        RenderSize::RgbWidth(width) => doc.render_rgb(job.page, width),
    };
}

/// Seconds of processor time used so far by this process and the children it has reaped.
fn cpu_time() -> f64 {
    let of = |who| {
        // SAFETY: getrusage fills the struct it is handed.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut usage) };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        secs(usage.ru_utime) + secs(usage.ru_stime)
    };
    of(libc::RUSAGE_SELF) + of(libc::RUSAGE_CHILDREN)
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}
