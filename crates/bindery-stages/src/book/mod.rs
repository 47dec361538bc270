//! The book pipeline: every format Bindery reads becomes one [`Book`].
//!
//! ```text
//! extract ─┬─ ocr ── structure ─┬─ enrich
//!          │                    ├─ dictionary
//!          └─ raster            ├─ narrate
//!                               ├─ cover
//!                               └─ index
//! ```
//!
//! `extract` reads the upload once and writes what later stages need as
//! artifacts: per-page lines with positions (PDF, EPUB), or the cleaned text
//! (plain text, Markdown). `ocr` recognises the pages whose text layer is
//! missing or unusable, and images. `structure` builds the [`Book`]
//! (chapters, paragraphs, title, author, language); everything after it
//! reads only that artifact, so enrichment never cares where a book came
//! from. Stages that do not apply to a format (OCR of a born-digital PDF,
//! page thumbnails of a text file) succeed at once with a summary saying so.

mod cover;
mod dictionary;
mod enrich;
pub(crate) mod extract;
mod index;
mod narrate;
mod ocr;
mod raster;
mod structure;
pub mod view;

pub use cover::{first_page_job, Cover};
pub use dictionary::Dictionary;
pub use enrich::Enrich;
pub use extract::Extract;
pub use index::Index;
pub use narrate::narrate_chapter;
pub use narrate::Narrate;
pub use ocr::Ocr;
pub use raster::{thumbnail_batches, Raster, MAX_THUMBNAIL_HEIGHT, THUMBNAIL_WIDTHS};
pub use structure::Structure;

use bindery_core::{Book, Pipeline};
pub(crate) use bindery_pipeline::{blocking, io};
use bindery_pipeline::{StageContext, StageError};
use std::path::{Path, PathBuf};

pub const PIPELINE: &str = "book";

/// The media types the book pipeline reads, as ingest tells them from an
/// upload's bytes and name (`bindery_core::media`).
pub const MEDIA_TYPES: &[&str] = &[
    "application/pdf",
    "application/epub+zip",
    "text/plain",
    "text/markdown",
    "image/png",
    "image/jpeg",
    "image/tiff",
    "image/webp",
];

/// Artifact kinds, shared by the stages, `bindery show` and `export`.
pub mod kinds {
    /// JSON Lines, one `bindery_pdf::PageText` per page, after a header line.
    pub const PAGES: &str = "pages";
    /// JSON Lines, one recognised page per line.
    pub const OCR: &str = "ocr";
    /// Cleaned UTF-8 text of a text upload.
    pub const TEXT: &str = "text";
    /// The structured book (`bindery_core::Book`) as JSON.
    pub const BOOK: &str = "book";
    pub const ANALYSIS: &str = "analysis";
    pub const DICTIONARY: &str = "dictionary";
    pub const NARRATION_PREVIEW: &str = "narration-preview";
    pub const THUMBNAILS: &str = "thumbnails";
}

/// Books are refused above this many bytes of JSON: far beyond any novel.
pub const MAX_BOOK_JSON: u64 = 256 * 1024 * 1024;

pub fn pipeline() -> Pipeline {
    Pipeline::new(
        PIPELINE,
        1,
        &[
            ("extract", &[]),
            ("ocr", &["extract"]),
            ("raster", &["extract"]),
            ("structure", &["ocr"]),
            ("enrich", &["structure"]),
            ("dictionary", &["structure"]),
            ("narrate", &["structure"]),
            ("cover", &["structure"]),
            ("index", &["structure"]),
        ],
    )
    .expect("the book pipeline is a valid DAG")
}

/// The input formats, told apart by the media type ingest recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Epub,
    Text { markdown: bool },
    Image,
}

impl Format {
    pub fn of(media_type: &str) -> Result<Format, StageError> {
        Ok(match media_type {
            "application/pdf" => Format::Pdf,
            "application/epub+zip" => Format::Epub,
            "text/plain" => Format::Text { markdown: false },
            "text/markdown" => Format::Text { markdown: true },
            m if m.starts_with("image/") => Format::Image,
            other => return Err(StageError::Permanent(format!("no book stages for {other}"))),
        })
    }

    /// Paged formats go through MuPDF.
    pub fn paged(self) -> Option<bindery_pdf::DocKind> {
        match self {
            Format::Pdf => Some(bindery_pdf::DocKind::Pdf),
            Format::Epub => Some(bindery_pdf::DocKind::Epub),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Epub => "epub",
            Format::Text { .. } => "txt",
            Format::Image => "img",
        }
    }
}

/// What the book's stages read from their context beyond what every stage
/// reads: the upload's format, the upload as a file named as MuPDF wants,
/// and the structured book.
pub trait BookContext {
    fn format(&self) -> Result<Format, StageError>;

    /// Streams the upload into `dir`, named with its format's extension
    /// (MuPDF recognises formats by name).
    fn source_file(&self, dir: &Path) -> impl std::future::Future<Output = Result<PathBuf, StageError>> + Send;

    /// The structured book written by `structure`. The JSON is streamed into
    /// a scratch file and parsed from there, so the stage holds the book
    /// once, not the book and its JSON side by side; several stages read the
    /// book at the same time.
    fn book(&self) -> impl std::future::Future<Output = Result<Book, StageError>> + Send;
}

impl BookContext for StageContext {
    fn format(&self) -> Result<Format, StageError> {
        Format::of(&self.document.media_type)
    }

    async fn source_file(&self, dir: &Path) -> Result<PathBuf, StageError> {
        self.upload_file(&dir.join(format!("source.{}", self.format()?.extension()))).await
    }

    async fn book(&self) -> Result<Book, StageError> {
        let key = self.artifact(kinds::BOOK)?.key.clone();
        match self.blobs.head(&key).await.map_err(StageError::from_blob)? {
            None => return Err(StageError::from_blob(bindery_blob::BlobError::NotFound(key))),
            Some(size) if size > MAX_BOOK_JSON => {
                return Err(StageError::from_blob(bindery_blob::BlobError::TooLarge { limit: MAX_BOOK_JSON }))
            }
            Some(_) => {}
        }
        let dir = tempfile::tempdir().map_err(io)?;
        let path = self.artifact_file(kinds::BOOK, &dir.path().join("book.json")).await?;
        blocking("reading the book", move || {
            let file = std::io::BufReader::new(std::fs::File::open(&path).map_err(io)?);
            let book = serde_json::from_reader(file).map_err(|e| StageError::Permanent(format!("book artifact: {e}")));
            drop(dir);
            book
        })
        .await
    }
}
