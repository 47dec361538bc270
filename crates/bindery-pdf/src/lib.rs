//! Paged documents (PDF, EPUB, XPS-free) through MuPDF.
//!
//! MuPDF is the one C library Bindery links for documents: it extracts about
//! a thousand pages a second per core with correct text, reads outlines
//! (bookmarks, an EPUB's table of contents) and renders pages in a few
//! milliseconds. This crate wraps it behind a small, safe, *page-at-a-time*
//! API so callers never hold a whole book's rasters or text structures:
//!
//! * [`Doc::open`] checks what can be checked up front (magic bytes,
//!   encryption, page count) and says clearly why a file is refused;
//! * [`Doc::page_text`] returns one page's lines with positions and font
//!   sizes, plus the counts that decide whether the page needs OCR;
//! * [`layout`] turns those lines into reading-order text: columns, running
//!   headers and footers, page numbers, hyphenation;
//! * [`Doc::render_grey`] and [`Doc::render_rgb`] rasterise one page.
//!
//! MuPDF keeps a context per thread and its handles are not `Send`: a `Doc`
//! lives and dies on the thread that opened it (callers use
//! `spawn_blocking`).

mod doc;
mod epub;
mod error;
#[cfg(feature = "testing")]
pub mod fixtures;
#[doc(hidden)]
pub mod fuzzing;
mod inflate;
pub mod layout;
mod markup;
#[cfg(any(feature = "mupdf-ocr", feature = "mupdf-ocr-bundled"))]
mod mupdf_ocr;
mod page;

pub use bindery_core::media::describe;
pub use doc::{Doc, DocKind, OpenOptions, OutlineEntry, Raster};
pub use error::PdfError;
#[cfg(any(feature = "mupdf-ocr", feature = "mupdf-ocr-bundled"))]
pub use mupdf_ocr::MupdfOcr;
pub use page::{OcrNeed, PageText, TextLine};
