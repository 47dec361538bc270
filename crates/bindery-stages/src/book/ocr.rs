//! `ocr`: recognise the pages whose text layer is missing or unusable, and
//! uploaded images.
//!
//! Pages are rendered in grey at 300 dpi by MuPDF in a child process with
//! limits (see [`crate::sandbox`]), a batch of pages per child so starting
//! it costs little, and handed through a two-slot channel to
//! `bindery_ocr::recognize_pages`, which runs one Tesseract engine per core
//! in the worker: Tesseract reads only the rendered pixels, never the
//! upload. At most a batch and a handful of page images exist at any time,
//! whatever the book's length. Results are written as JSON Lines with each
//! page's confidence.

use super::extract::PagesHeader;
use super::BookContext;
use super::{blocking, io, kinds, Format};
use crate::sandbox::{RenderJob, RenderSize, Sandbox};
use async_trait::async_trait;
use bindery_ocr::{GreyImage, OcrError, OcrOptions};
use bindery_pipeline::{Stage, StageContext, StageError, StageOutput};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// OCR renders pages without a scanned image at this resolution, Tesseract's
/// sweet spot for book type; scans are rendered at their own resolution.
pub const OCR_DPI: u32 = 300;

/// One line of the `ocr` artifact.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OcrLine {
    pub page: u32,
    pub text: String,
    pub confidence: f32,
}

/// Pages rendered per child: few enough that a batch of 300 dpi pages
/// (about 9 MB each) stays small on disk and in memory, many enough that
/// starting the child is a small part of the work.
pub const RENDER_BATCH: usize = 8;

/// The stage, with the sandbox its pages are rendered in.
pub struct Ocr {
    sandbox: Sandbox,
}

impl Ocr {
    pub fn new(sandbox: Sandbox) -> Self {
        Self { sandbox }
    }
}

#[async_trait]
impl Stage for Ocr {
    fn name(&self) -> &'static str {
        "ocr"
    }

    /// A long scanned book takes a while: about a second per page per core.
    fn timeout(&self) -> Duration {
        Duration::from_secs(3 * 3600)
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let format = ctx.format()?;
        let dir = tempfile::tempdir().map_err(io)?;
        let out = dir.path().join("ocr.jsonl");
        let (pages, dpis): (Vec<u32>, Vec<u32>) = match format {
            Format::Image => (vec![1], vec![OCR_DPI]),
            Format::Pdf | Format::Epub => {
                let h = read_header(ctx).await?;
                let dpis =
                    if h.ocr_dpi.len() == h.ocr_pages.len() { h.ocr_dpi } else { vec![OCR_DPI; h.ocr_pages.len()] };
                (h.ocr_pages, dpis)
            }
            Format::Text { .. } => (vec![], vec![]),
        };
        if pages.is_empty() {
            return Ok(StageOutput { outputs: vec![], summary: json!({"pages": 0}) });
        }
        let source = ctx.source_file(dir.path()).await?;
        // An image may hold several pages (a multi-page TIFF): each is recognised.
        let (pages, dpis) = match format {
            Format::Image => {
                let count = self.sandbox.image_pages(&source).await?;
                ((1..=count).collect(), vec![OCR_DPI; count as usize])
            }
            _ => (pages, dpis),
        };
        let languages = bindery_ocr::language_for("und").to_owned();
        let renderer = Renderer {
            format,
            source,
            scratch: dir.path().join("pages"),
            sandbox: self.sandbox.clone(),
            runtime: tokio::runtime::Handle::current(),
        };
        std::fs::create_dir(&renderer.scratch).map_err(io)?;
        let out2 = out.clone();
        let pages2 = pages.clone();
        let confidences = blocking("OCR", move || recognise(renderer, &pages2, &dpis, &languages, &out2)).await?;
        let stored = ctx.blobs.put_file(&out).await.map_err(StageError::from_blob)?;
        let mean = confidences.iter().sum::<f32>() / confidences.len().max(1) as f32;
        Ok(StageOutput {
            summary: json!({"pages": pages.len(), "mean_confidence": (mean * 10.0).round() / 10.0,
                            "confidence": confidences.iter().map(|c| c.round()).collect::<Vec<_>>(),
                            "engine": format!("tesseract {}", bindery_ocr::version())}),
            outputs: vec![bindery_core::event::Artifact {
                kind: kinds::OCR.into(),
                key: stored.key,
                bytes: stored.bytes,
                media_type: "application/x-ndjson".into(),
            }],
        })
    }
}

/// The `pages` artifact's header line.
pub(crate) async fn read_header(ctx: &StageContext) -> Result<PagesHeader, StageError> {
    let dir = tempfile::tempdir().map_err(io)?;
    let path = ctx.artifact_file(kinds::PAGES, &dir.path().join("pages.jsonl")).await?;
    let mut line = String::new();
    std::io::BufReader::new(std::fs::File::open(&path).map_err(io)?).read_line(&mut line).map_err(io)?;
    serde_json::from_str(&line).map_err(|e| StageError::Permanent(format!("pages artifact header: {e}")))
}

/// Where and how pages are rendered, moved to the rendering thread.
struct Renderer {
    format: Format,
    source: PathBuf,
    /// A folder the children write page images into.
    scratch: PathBuf,
    sandbox: Sandbox,
    /// The stage's runtime, which the rendering thread blocks on to run children.
    runtime: tokio::runtime::Handle,
}

fn recognise(
    renderer: Renderer,
    pages: &[u32],
    dpis: &[u32],
    languages: &str,
    out: &Path,
) -> Result<Vec<f32>, StageError> {
    let opts = OcrOptions { languages: languages.to_owned(), dpi: OCR_DPI, datapath: None };
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<GreyImage, OcrError>>(2);
    let render = {
        let (pages, dpis) = (pages.to_vec(), dpis.to_vec());
        std::thread::spawn(move || render_pages(&renderer, &pages, &dpis, tx))
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).map_err(io)?);
    let mut confidences = Vec::with_capacity(pages.len());
    let mut failure: Option<StageError> = None;
    let run = bindery_ocr::recognize_pages(&opts, threads, rx.into_iter(), |i, result| {
        if failure.is_some() {
            return;
        }
        match result {
            Ok(page) => {
                confidences.push(page.confidence);
                let line = OcrLine { page: pages[i], text: page.text, confidence: page.confidence };
                let written = serde_json::to_writer(&mut file, &line).map_err(std::io::Error::other);
                if let Err(e) = written.and_then(|_| file.write_all(b"\n")) {
                    failure = Some(io(e));
                }
            }
            Err(e) => failure = Some(StageError::Permanent(format!("page {}: {e}", pages[i]))),
        }
    });
    let rendered = render.join().map_err(|_| StageError::Permanent("rendering pages crashed".into()))?;
    rendered?;
    run.map_err(|e| StageError::Retryable(format!("OCR engine: {e}")))?;
    if let Some(e) = failure {
        return Err(e);
    }
    file.flush().map_err(io)?;
    Ok(confidences)
}

/// Produces the grey page images on this thread, a batch per child,
/// stopping early if the recogniser went away. A child that crashes or runs
/// out of memory fails the stage with the sandbox's reason.
fn render_pages(
    renderer: &Renderer,
    pages: &[u32],
    dpis: &[u32],
    tx: std::sync::mpsc::SyncSender<Result<GreyImage, OcrError>>,
) -> Result<(), StageError> {
    if renderer.format == Format::Image {
        // Decoded in children like rendered pages, a batch per child (see `Request::DecodeImage`).
        for batch in pages.chunks(RENDER_BATCH) {
            let decoded = renderer.sandbox.decode_image(&renderer.source, &renderer.scratch, batch);
            for image in renderer.runtime.block_on(decoded)? {
                let grey = GreyImage { width: image.width, height: image.height, pixels: image.pixels };
                if tx.send(Ok(grey)).is_err() {
                    return Ok(());
                }
            }
        }
        return Ok(());
    }
    let kind = renderer.format.paged().expect("paged format");
    let jobs: Vec<RenderJob> =
        pages.iter().zip(dpis).map(|(&page, &dpi)| RenderJob { page, size: RenderSize::GreyDpi(dpi) }).collect();
    for batch in jobs.chunks(RENDER_BATCH) {
        let rendered = renderer.sandbox.render(&renderer.source, kind, &renderer.scratch, batch, false);
        let (images, _) = renderer.runtime.block_on(rendered)?;
        for image in images.into_iter().flatten() {
            let grey = GreyImage { width: image.width, height: image.height, pixels: image.pixels };
            if tx.send(Ok(grey)).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}
