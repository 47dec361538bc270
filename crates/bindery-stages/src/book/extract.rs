//! `extract`: read the upload once, page by page.
//!
//! Paged documents are written as JSON Lines (a header, then one page per
//! line) straight to a scratch file and uploaded from there, so a
//! thousand-page book never sits in memory. Text uploads are validated and
//! cleaned (see [`crate::text`]). Images need no extraction: `ocr` reads them.

use super::{blocking, io, kinds, pdf_error, Format};
use crate::stage::{Stage, StageContext, StageError, StageOutput};
use crate::text;
use async_trait::async_trait;
use bindery_pdf::{Doc, OcrNeed, OpenOptions, OutlineEntry};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

/// The first line of the `pages` artifact.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PagesHeader {
    pub pages: u32,
    pub title: Option<String>,
    pub author: Option<String>,
    pub outline: Vec<OutlineEntry>,
    /// Pages whose text layer is missing or unusable, for `ocr`.
    pub ocr_pages: Vec<u32>,
    /// The resolution to render each of `ocr_pages` at.
    #[serde(default)]
    pub ocr_dpi: Vec<u32>,
    /// Reflowed (EPUB): MuPDF's blocks are the source's paragraphs.
    #[serde(default)]
    pub reflowed: bool,
}

pub struct Extract;

/// Reading stops after this long: a 3,000-page PDF takes a few seconds.
const DEADLINE: Duration = Duration::from_secs(300);

#[async_trait]
impl Stage for Extract {
    fn name(&self) -> &'static str {
        "extract"
    }

    fn timeout(&self) -> Duration {
        DEADLINE + Duration::from_secs(60)
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        match ctx.format()? {
            Format::Text { .. } => extract_text(ctx).await,
            Format::Image => Ok(StageOutput { outputs: vec![], summary: json!({"pages": 1, "ocr_pages": 1}) }),
            format => {
                let kind = format.paged().expect("paged formats");
                let dir = tempfile::tempdir().map_err(io)?;
                let source = ctx.source_file(dir.path()).await?;
                let out = dir.path().join("pages.jsonl");
                let out2 = out.clone();
                let header = blocking("the document parser", move || {
                    extract_pages(&source, kind, &out2).map_err(|e| match e {
                        Failure::Pdf(e) => pdf_error(e),
                        Failure::Io(e) => io(e),
                    })
                })
                .await?;
                let stored = ctx.blobs.put_file(&out).await.map_err(StageError::from_blob)?;
                let artifact = bindery_core::event::Artifact {
                    kind: kinds::PAGES.into(),
                    key: stored.key,
                    bytes: stored.bytes,
                    media_type: "application/x-ndjson".into(),
                };
                Ok(StageOutput {
                    summary: json!({"pages": header.pages, "ocr_pages": header.ocr_pages.len(),
                                    "outline": header.outline.len(), "title": header.title, "author": header.author}),
                    outputs: vec![artifact],
                })
            }
        }
    }
}

enum Failure {
    Pdf(bindery_pdf::PdfError),
    Io(std::io::Error),
}

impl From<bindery_pdf::PdfError> for Failure {
    fn from(e: bindery_pdf::PdfError) -> Self {
        Failure::Pdf(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

/// Writes the header and every page to `out`. The header goes first but is
/// only complete at the end (the OCR page list), so pages are written to a
/// second file and appended.
fn extract_pages(
    source: &std::path::Path,
    kind: bindery_pdf::DocKind,
    out: &std::path::Path,
) -> Result<PagesHeader, Failure> {
    let started = Instant::now();
    let doc = Doc::open(source, kind, OpenOptions::default())?;
    let (title, author) = doc.metadata();
    let mut header = PagesHeader {
        pages: doc.page_count(),
        title,
        author,
        outline: doc.outline().unwrap_or_default(),
        reflowed: kind == bindery_pdf::DocKind::Epub,
        ..PagesHeader::default()
    };
    let body_path = out.with_extension("body");
    let mut body = std::io::BufWriter::new(std::fs::File::create(&body_path)?);
    for n in 1..=doc.page_count() {
        if started.elapsed() > DEADLINE {
            return Err(bindery_pdf::PdfError::Deadline(DEADLINE).into());
        }
        let page = doc.page_text(n)?;
        if page.ocr_need() != OcrNeed::No {
            header.ocr_pages.push(n);
            header.ocr_dpi.push(page.ocr_dpi());
        }
        serde_json::to_writer(&mut body, &page).map_err(std::io::Error::other)?;
        body.write_all(b"\n")?;
    }
    body.flush()?;
    drop(body);
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    serde_json::to_writer(&mut file, &header).map_err(std::io::Error::other)?;
    file.write_all(b"\n")?;
    std::io::copy(&mut std::fs::File::open(&body_path)?, &mut file)?;
    file.flush()?;
    Ok(header)
}

async fn extract_text(ctx: &StageContext) -> Result<StageOutput, StageError> {
    let raw = ctx.blobs.get_bytes(&ctx.document.blob_key, text::MAX_TEXT_BYTES).await.map_err(StageError::from_blob)?;
    let cleaned = text::clean(&raw)?;
    let artifact = ctx.store(kinds::TEXT, "text/plain; charset=utf-8", cleaned.body.as_bytes().to_vec()).await?;
    Ok(StageOutput {
        summary: json!({"bytes": artifact.bytes, "language": cleaned.language,
                        "title": cleaned.title, "author": cleaned.author}),
        outputs: vec![artifact],
    })
}
