//! `bindery bench isolation FILE`: what parsing uploads in sandbox children
//! costs a book, measured in one invocation so that every figure shares the
//! machine's state.
//!
//! The work the stages hand to children (`extract`'s pages, `raster`'s
//! thumbnails, `cover`'s first page) is done for the same file both ways,
//! alternately: in this process, as the stages did before isolation, and in
//! children exactly as the stages now make them. The difference is the
//! price of isolation; beside it, the whole pipeline's time for the same
//! book, one at a time on an idle worker, is what that price is a share of.

use super::bench::scratch;
use super::bench_books::one_at_a_time;
use crate::config::Settings;
use anyhow::{Context, Result};
use bindery_pdf::{Doc, DocKind};
use bindery_stages::book::{first_page_job, thumbnail_batches};
use bindery_stages::sandbox::{child::run_here, RenderJob, RenderSize, Request};
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

pub async fn isolation(s: &Settings, file: &Path, rounds: u32, json_out: bool) -> Result<ExitCode> {
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
        for job in batches.iter().flatten() {
            render_here(&doc, job)?;
        }
        let doc = Doc::open(&source, kind, limits.clone())?;
        render_here(&doc, &first_page_job())?;
        here.push(started.elapsed());

        let started = Instant::now();
        sandbox.run(&extract()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        for batch in &batches {
            sandbox.render(&source, kind, &scratch_dir, batch, true).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        sandbox
            .render(&source, kind, &scratch_dir, &[first_page_job()], true)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        children.push(started.elapsed());
    }

    // The whole pipeline, one book at a time on an idle worker.
    let (engine, books_dir) = scratch(s).await?;
    let latencies = one_at_a_time(&engine, books_dir.path(), file, rounds as usize, 2).await?;
    let (here, children) = (median(here), median(children));
    let book = Duration::from_secs_f64(latencies[latencies.len() / 2]);
    let cost = children.saturating_sub(here);
    let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
    super::bench_books::report(
        json_out,
        json!({"bench": "isolation", "file": file.display().to_string(), "pages": pages, "rounds": rounds,
               "children_per_book": 1 + batches.len() + 1,
               "in_process_ms": ms(here), "in_children_ms": ms(children), "isolation_cost_ms": ms(cost),
               "whole_book_ms": ms(book),
               "cost_share_of_book_pct": (cost.as_secs_f64() / book.as_secs_f64() * 1000.0).round() / 10.0}),
    );
    Ok(ExitCode::SUCCESS)
}

/// Renders one page image in memory, as the stages did in the worker.
fn render_here(doc: &Doc, job: &RenderJob) -> Result<()> {
    let raster = match job.size {
        RenderSize::GreyDpi(dpi) => doc.render_grey(job.page, dpi),
        RenderSize::RgbWidth(width) => doc.render_rgb(job.page, width),
    };
    // A page MuPDF refuses is skipped both ways.
    drop(raster);
    Ok(())
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}
