//! What the fuzz targets share: a paged document read the way production
//! reads an upload, from the parse child's first look to the worker's
//! layout of its pages.
//!
//! The child's own function (`extract_pages` in `bindery-stages`) writes
//! its pages to a file and announces its progress on standard output, which
//! a fuzzer running thousands of inputs a second does not want; [`read`]
//! makes the same calls on the document in the same order, with the same
//! per-document limits, and then lays the pages out as the `structure`
//! stage does in the worker.

use bindery_pdf::layout::{paragraphs, reading_order, Furniture};
use bindery_pdf::{Doc, DocKind, OpenOptions, PdfError};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The width of the smallest thumbnail the `raster` stage renders
/// (`THUMBNAIL_WIDTHS` in `book/raster.rs`): every page of a book is
/// rendered at least this wide in a child.
const THUMBNAIL_WIDTH: u32 = 120;

/// Writes `data` where MuPDF can open it: MuPDF reads documents from paths,
/// and recognises the format by the extension as well as the content, so
/// the stages name their copy `source.pdf` or `source.epub`. The folder is
/// made once per fuzzing process and each input overwrites the last.
pub fn source_file(data: &[u8], kind: DocKind) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("a scratch folder"));
    let path = dir.path().join(match kind {
        DocKind::Pdf => "source.pdf",
        DocKind::Epub => "source.epub",
    });
    std::fs::write(&path, data).expect("writing the input");
    path
}

/// Reads `data` as a document of `kind` as production does: opens it under
/// the default per-document limits (the `max-*` settings' defaults), reads
/// its metadata, its outline and the text of every page, renders its first
/// page as the smallest thumbnail, then lays out every page's text. A
/// refusal is a result like any other; only a crash, a hang or runaway
/// memory is a finding.
pub fn read(data: &[u8], kind: DocKind) {
    let _ = read_document(data, kind);
}

fn read_document(data: &[u8], kind: DocKind) -> Result<(), PdfError> {
    let path = source_file(data, kind);
    let doc = Doc::open(&path, kind, OpenOptions::default())?;
    let _ = doc.metadata();
    // The child tolerates an unreadable outline, as here.
    let _ = doc.outline();
    let mut pages = Vec::with_capacity(doc.page_count() as usize);
    for n in 1..=doc.page_count() {
        let page = doc.page_text(n)?;
        let _ = (page.ocr_need(), page.ocr_dpi());
        pages.push(page);
    }
    let _ = doc.render_rgb(1, THUMBNAIL_WIDTH);
    // The worker's side: the `structure` stage learns the running headers
    // and footers from every page, then orders and joins each page's lines.
    let reflowed = kind == DocKind::Epub;
    let mut furniture = Furniture::default();
    pages.iter().for_each(|page| furniture.learn(page));
    for page in &pages {
        let kept: Vec<_> =
            reading_order(page).into_iter().filter(|l| reflowed || !furniture.is_furniture(page, l)).collect();
        let _ = paragraphs(&kept, reflowed);
    }
    Ok(())
}
