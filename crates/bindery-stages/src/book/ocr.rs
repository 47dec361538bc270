//! `ocr`: recognise the pages whose text layer is missing or unusable, and
//! uploaded images.
//!
//! Pages are rendered in grey at 300 dpi on one thread (MuPDF handles stay
//! on the thread that opened them) and handed through a two-slot channel to
//! `bindery_ocr::recognize_pages`, which runs one Tesseract engine per core.
//! At most a handful of page images exist at any time, whatever the book's
//! length. Results are written as JSON Lines with each page's confidence.

use super::extract::PagesHeader;
use super::{blocking, io, kinds, Format};
use crate::stage::{Stage, StageContext, StageError, StageOutput};
use async_trait::async_trait;
use bindery_ocr::{GreyImage, OcrError, OcrOptions};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Duration;

/// OCR renders pages without a scanned image at this resolution, Tesseract's
/// sweet spot for book type; scans are rendered at their own resolution.
pub const OCR_DPI: u32 = 300;
/// Images with more pixels than this are refused before decoding (a
/// decompression bomb claims billions).
pub const MAX_IMAGE_PIXELS: u64 = 100_000_000;

/// One line of the `ocr` artifact.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OcrLine {
    pub page: u32,
    pub text: String,
    pub confidence: f32,
}

pub struct Ocr;

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
                let bytes = tokio::fs::read(&source).await.map_err(io)?;
                let count = bindery_media::image_pages(&bytes, bindery_pdf::OpenOptions::default().max_pages)
                    .map_err(|e| StageError::Permanent(format!("image: {e}")))?;
                ((1..=count).collect(), vec![OCR_DPI; count as usize])
            }
            _ => (pages, dpis),
        };
        let languages = bindery_ocr::language_for("und").to_owned();
        let out2 = out.clone();
        let pages2 = pages.clone();
        let confidences =
            blocking("OCR", move || recognise(format, &source, &pages2, &dpis, &languages, &out2)).await?;
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

fn recognise(
    format: Format,
    source: &Path,
    pages: &[u32],
    dpis: &[u32],
    languages: &str,
    out: &Path,
) -> Result<Vec<f32>, StageError> {
    let opts = OcrOptions { languages: languages.to_owned(), dpi: OCR_DPI, datapath: None };
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<GreyImage, OcrError>>(2);
    let render = {
        let (source, pages, dpis) = (source.to_owned(), pages.to_vec(), dpis.to_vec());
        std::thread::spawn(move || render_pages(format, &source, &pages, &dpis, tx))
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

/// Produces the grey page images on this thread, stopping early if the
/// recogniser went away.
fn render_pages(
    format: Format,
    source: &Path,
    pages: &[u32],
    dpis: &[u32],
    tx: std::sync::mpsc::SyncSender<Result<GreyImage, OcrError>>,
) -> Result<(), StageError> {
    if format == Format::Image {
        let bytes = std::fs::read(source).map_err(io)?;
        let limits = bindery_media::DecodeLimits { max_pixels: MAX_IMAGE_PIXELS, ..Default::default() };
        for &n in pages {
            let grey = bindery_media::decode_grey_page(&bytes, n - 1, &limits)
                .map_err(|e| StageError::Permanent(format!("image, page {n}: {e}")))?;
            let (width, height) = grey.dimensions();
            if tx.send(Ok(GreyImage { width, height, pixels: grey.into_raw() })).is_err() {
                break;
            }
        }
        return Ok(());
    }
    let kind = format.paged().expect("paged format");
    let doc = bindery_pdf::Doc::open(source, kind, bindery_pdf::OpenOptions::default()).map_err(super::pdf_error)?;
    for (&n, &dpi) in pages.iter().zip(dpis) {
        let page = doc.render_grey(n, dpi).map(|r| GreyImage { width: r.width, height: r.height, pixels: r.pixels });
        let page = page.map_err(|e| OcrError::BadImage(format!("rendering page {n}: {e}")));
        if tx.send(page).is_err() {
            break;
        }
    }
    Ok(())
}
