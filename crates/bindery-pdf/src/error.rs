//! Why a document could not be read. Every variant is a property of the file
//! (permanent) except `Io`, which may be the disk's fault.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum PdfError {
    #[error("the file is empty")]
    Empty,
    #[error("not a {expected} file: its first bytes look like {found}")]
    WrongType { expected: &'static str, found: String },
    #[error("the PDF is encrypted and needs a password")]
    Encrypted,
    #[error("the document has {pages} pages, more than the limit of {limit}")]
    TooManyPages { pages: u32, limit: u32 },
    #[error("the document has no readable pages (it is damaged or empty)")]
    NoPages,
    #[error("page {page} is {width}×{height} pixels at {dpi} dpi, more than the limit of {limit} pixels")]
    PageTooLarge { page: u32, width: u32, height: u32, dpi: u32, limit: u64 },
    #[error("the document is damaged or unreadable: {0}")]
    Corrupt(String),
    #[error("the PDF is truncated: it has no end-of-file marker")]
    Truncated,
    #[error("the PDF's outline (bookmarks) is nested more than {limit} levels deep: the file is damaged or made to crash readers")]
    OutlineTooDeep { limit: u32 },
    #[error("the EPUB's {entry} nests its elements more than {limit} levels deep: the file is damaged or made to crash readers")]
    TooDeep { entry: String, limit: u32 },
    #[error("the EPUB is unsafe: {0}")]
    UnsafeArchive(String),
    #[error("the EPUB is damaged: its chapter {0} is missing from the file")]
    MissingChapter(String),
    #[error("the EPUB is protected by DRM (its chapters are encrypted); upload a copy without DRM")]
    Drm,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl PdfError {
    /// True when trying again might succeed; everything else is the file's
    /// fault and fails the document at once.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PdfError::Io(_))
    }

    /// True when MuPDF could not allocate memory, which under a memory limit
    /// means the file needs more than the limit. MuPDF says so only in its
    /// message ("malloc (N bytes) failed").
    pub fn is_out_of_memory(&self) -> bool {
        match self {
            PdfError::Corrupt(m) => {
                m.contains(" bytes) failed") && ["malloc (", "calloc (", "realloc ("].iter().any(|f| m.contains(f))
            }
            _ => false,
        }
    }
}

impl From<mupdf::Error> for PdfError {
    fn from(e: mupdf::Error) -> Self {
        PdfError::Corrupt(e.to_string())
    }
}
