//! `extract`: read the upload once, page by page.
//!
//! Paged documents are read by MuPDF in a child process with limits (see
//! [`crate::sandbox`]), which writes them as JSON Lines (a header, then one
//! page per line) straight to a scratch file; the stage uploads that file,
//! so a thousand-page book never sits in memory. Text uploads are validated
//! and cleaned (see [`crate::text`]). Images need no extraction: `ocr` reads
//! them.

use super::BookContext;
use super::{io, kinds, Format};
use crate::sandbox::{Request, Sandbox};
use crate::text;
use async_trait::async_trait;
use bindery_pdf::{Doc, OcrNeed, OpenOptions, OutlineEntry, PdfError};
use bindery_pipeline::{Stage, StageContext, StageError, StageOutput};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::Write;
use std::time::Duration;

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
    /// Pages the file declares but MuPDF could not load or read (a damaged
    /// page tree or page): each stands in the artifact as an empty page, so
    /// that numbering holds, and the document warns of them.
    #[serde(default)]
    pub unreadable_pages: Vec<u32>,
    /// Pages that read, but from a damaged content stream (a Flate stream
    /// that breaks off, or content in which MuPDF met and skipped errors:
    /// junk, resources the file lacks): MuPDF drew them past the damage, so
    /// part of their text may be missing.
    #[serde(default)]
    pub damaged_pages: Vec<u32>,
    /// True when the file's index of objects was damaged and MuPDF rebuilt
    /// it by scanning the file: whatever the damage touched may be missing.
    #[serde(default)]
    pub repaired: bool,
}

/// The stage, with the sandbox its parser runs in.
pub struct Extract {
    sandbox: Sandbox,
}

impl Extract {
    pub fn new(sandbox: Sandbox) -> Self {
        Self { sandbox }
    }
}

/// The summary the child answers, checked before it becomes the stage's.
#[derive(Deserialize)]
struct Summary {
    pages: u32,
    ocr_pages: usize,
    outline: usize,
    title: Option<String>,
    author: Option<String>,
    #[serde(default)]
    unreadable_pages: Vec<u32>,
    #[serde(default)]
    damaged_pages: Vec<u32>,
    #[serde(default)]
    repaired: bool,
}

#[async_trait]
impl Stage for Extract {
    fn name(&self) -> &'static str {
        "extract"
    }

    /// The sandbox's deadline ends the parse; the rest is downloading and
    /// uploading.
    fn timeout(&self) -> Duration {
        self.sandbox.options().timeout + Duration::from_secs(60)
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        match ctx.format()? {
            Format::Text { .. } => extract_text(ctx, self.sandbox.options().max_text_bytes).await,
            Format::Image => Ok(StageOutput { outputs: vec![], summary: json!({"pages": 1, "ocr_pages": 1}) }),
            format => {
                let kind = format.paged().expect("paged formats");
                let dir = tempfile::tempdir().map_err(io)?;
                let source = ctx.source_file(dir.path()).await?;
                let out = dir.path().join("pages.jsonl");
                let limits = self.sandbox.options().limits.clone();
                let answer = self.sandbox.run(&Request::Extract { source, kind, out: out.clone(), limits }).await?;
                let header: Summary = serde_json::from_value(answer)
                    .map_err(|e| StageError::Permanent(format!("the document reader answered nonsense: {e}")))?;
                let stored = ctx.blobs.put_file(&out).await.map_err(StageError::from_blob)?;
                let artifact = bindery_core::event::Artifact {
                    kind: kinds::PAGES.into(),
                    key: stored.key,
                    bytes: stored.bytes,
                    media_type: "application/x-ndjson".into(),
                };
                let mut summary = json!({"pages": header.pages, "ocr_pages": header.ocr_pages,
                                         "outline": header.outline, "title": header.title, "author": header.author});
                let warnings = damage_warnings(&header);
                if !header.unreadable_pages.is_empty() {
                    summary["unreadable_pages"] = json!(header.unreadable_pages);
                }
                if !header.damaged_pages.is_empty() {
                    summary["damaged_pages"] = json!(header.damaged_pages);
                }
                if header.repaired {
                    summary["repaired"] = json!(true);
                }
                if !warnings.is_empty() {
                    summary["warnings"] = json!(warnings);
                }
                Ok(StageOutput { summary, outputs: vec![artifact] })
            }
        }
    }
}

/// The warnings a document carries about damage in its file: pages that
/// could not be read at all, pages read only up to damage in their content,
/// and an index of objects that had to be rebuilt.
fn damage_warnings(header: &Summary) -> Vec<String> {
    let total = header.pages;
    let mut warnings = Vec::new();
    if let Some(named) = name_pages(&header.unreadable_pages) {
        let count = match header.unreadable_pages.len() {
            1 => format!("page {named} of {total} could not be read"),
            n => format!("{n} of {total} pages could not be read ({named})"),
        };
        warnings.push(format!("{count}: the file is damaged there, and the book is missing that text"));
    }
    if let Some(named) = name_pages(&header.damaged_pages) {
        warnings.push(match header.damaged_pages.len() {
            1 => format!(
                "page {named} of {total} is damaged: it could be read only in part, and some of its text may be missing"
            ),
            n => format!(
                "{n} of {total} pages are damaged ({named}): they could be read only in part, and some of their text \
                 may be missing"
            ),
        });
    }
    if header.repaired {
        warnings.push(
            "the file is damaged: its index of contents had to be rebuilt, and some of the book may be missing; \
             compare it with the original or upload an undamaged copy"
                .to_owned(),
        );
    }
    warnings
}

/// The first few of `pages`, then how many more: "3, 7, 9 and 12 more".
fn name_pages(pages: &[u32]) -> Option<String> {
    const NAMED: usize = 10;
    if pages.is_empty() {
        return None;
    }
    let (first, rest) = pages.split_at(pages.len().min(NAMED));
    let mut named = first.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    if !rest.is_empty() {
        named.push_str(&format!(" and {} more", rest.len()));
    }
    Some(named)
}

/// Why a child's work stopped: the file (as MuPDF said, or in words
/// already), or the local disk.
pub(crate) enum Failure {
    Pdf(PdfError),
    Refused(String),
    Io(std::io::Error),
}

impl From<PdfError> for Failure {
    fn from(e: PdfError) -> Self {
        Failure::Pdf(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

/// Writes the header and every page to `out`, saying what it reads through
/// `phase`. The header goes first but is only complete at the end (the OCR
/// page list), so pages are written to a second file and appended. Runs in
/// the sandbox's child ([`crate::sandbox::child`]), which bounds its time.
pub(crate) fn extract_pages(
    source: &std::path::Path,
    kind: bindery_pdf::DocKind,
    out: &std::path::Path,
    limits: &OpenOptions,
    phase: &mut dyn FnMut(String),
) -> Result<PagesHeader, Failure> {
    phase("opening the file".into());
    let doc = Doc::open(source, kind, limits.clone())?;
    let (title, author) = doc.metadata();
    phase("the outline (bookmarks)".into());
    // An unreadable outline costs only the chapters it would have named; one nested too deeply is hostile.
    let outline = match doc.outline() {
        Ok(outline) => outline,
        Err(e @ PdfError::OutlineTooDeep { .. }) => return Err(e.into()),
        Err(_) => Vec::new(),
    };
    let mut header = PagesHeader {
        pages: doc.page_count(),
        title,
        author,
        outline,
        reflowed: kind == bindery_pdf::DocKind::Epub,
        ..PagesHeader::default()
    };
    let body_path = out.with_extension("body");
    let mut body = std::io::BufWriter::new(std::fs::File::create(&body_path)?);
    for n in 1..=doc.page_count() {
        phase(format!("page {n}"));
        let page = match doc.page_text(n) {
            Ok(page) => {
                // A page that read may still have lost what followed damage in its content; one whose content
                // cannot even be found for the check lost it too. Running out of memory is the limit's doing.
                match doc.page_content_damaged(n) {
                    Ok(false) if page.errors == 0 => {}
                    Ok(false) => header.damaged_pages.push(n),
                    Err(e) if e.is_out_of_memory() => return Err(e.into()),
                    Ok(true) | Err(_) => header.damaged_pages.push(n),
                }
                page
            }
            // A damaged page costs its own text, not the book: it stands as an empty page and the document says
            // so. Running out of memory is the limit's doing, not damage, and fails as everywhere else.
            Err(e @ PdfError::Corrupt(_)) if !e.is_out_of_memory() => {
                header.unreadable_pages.push(n);
                bindery_pdf::PageText { number: n, ..Default::default() }
            }
            Err(e) => return Err(e.into()),
        };
        if page.ocr_need() != OcrNeed::No {
            header.ocr_pages.push(n);
            header.ocr_dpi.push(page.ocr_dpi());
        }
        serde_json::to_writer(&mut body, &page).map_err(std::io::Error::other)?;
        body.write_all(b"\n")?;
    }
    body.flush()?;
    drop(body);
    // Asked last: MuPDF repairs when it first meets the damage, which may be on any page.
    header.repaired = doc.was_repaired();
    if header.pages > 0 && header.unreadable_pages.len() == header.pages as usize {
        return Err(PdfError::NoPages.into());
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    serde_json::to_writer(&mut file, &header).map_err(std::io::Error::other)?;
    file.write_all(b"\n")?;
    std::io::copy(&mut std::fs::File::open(&body_path)?, &mut file)?;
    file.flush()?;
    Ok(header)
}

async fn extract_text(ctx: &StageContext, max_bytes: u64) -> Result<StageOutput, StageError> {
    let raw = ctx.blobs.get_bytes(&ctx.document.blob_key, max_bytes).await.map_err(|e| match e {
        bindery_blob::BlobError::TooLarge { limit } => StageError::Permanent(format!(
            "the text is larger than {} MiB, the most a text upload may be on this instance (max-text-mb); split it \
             into volumes",
            limit.div_ceil(1 << 20)
        )),
        e => StageError::from_blob(e),
    })?;
    let cleaned = text::clean(&raw)?;
    drop(raw);
    let artifact = ctx.store(kinds::TEXT, "text/plain; charset=utf-8", cleaned.body.into_bytes()).await?;
    Ok(StageOutput {
        summary: json!({"bytes": artifact.bytes, "language": cleaned.language,
                        "title": cleaned.title, "author": cleaned.author}),
        outputs: vec![artifact],
    })
}
