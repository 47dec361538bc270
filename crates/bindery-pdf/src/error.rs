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
    #[error("the book has {} pages; this instance accepts at most {} (max-pages)", thousands(*.pages as u64), thousands(*.limit as u64))]
    TooManyPages { pages: u32, limit: u32 },
    #[error("the document has no readable pages (it is damaged or empty)")]
    NoPages,
    #[error("page {page} is {width}×{height} pixels at {dpi} dpi, more than the {} million pixels a page may have (max-page-megapixels)", megapixels(*.limit))]
    PageTooLarge { page: u32, width: u32, height: u32, dpi: u32, limit: u64 },
    #[error("the document is damaged or unreadable: {0}")]
    Corrupt(String),
    #[error("the PDF is truncated: it has no end-of-file marker")]
    Truncated,
    #[error("the PDF's outline (bookmarks) is nested more than {limit} levels deep, the most this instance accepts (max-nesting-depth): the file is damaged or made to crash readers")]
    OutlineTooDeep { limit: u32 },
    #[error("the EPUB's {entry} nests its elements more than {limit} levels deep, the most this instance accepts (max-nesting-depth): the file is damaged or made to crash readers")]
    TooDeep { entry: String, limit: u32 },
    #[error("the EPUB's {entry} would unpack to {} MiB; this instance accepts at most {} MiB per file inside an EPUB (max-epub-entry-mb)", mib(*.bytes), mib(*.limit))]
    EntryTooLarge { entry: String, bytes: u64, limit: u64 },
    #[error("the EPUB would unpack to {} MiB; this instance accepts at most {} MiB (max-epub-unpacked-mb)", mib(*.bytes), mib(*.limit))]
    UnpacksTooLarge { bytes: u64, limit: u64 },
    #[error("the EPUB is unsafe: {0}")]
    UnsafeArchive(String),
    #[error("the EPUB is damaged: its chapter {0} is missing from the file")]
    MissingChapter(String),
    #[error("the EPUB is protected by DRM (its chapters are encrypted); upload a copy without DRM")]
    Drm,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// `5000` as "5,000", as a reader writes numbers.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// Pixels in millions, as the setting counts them (a limit is set in whole millions; a default that is not reads
/// rounded up).
fn megapixels(pixels: u64) -> String {
    thousands(pixels.div_ceil(1_000_000))
}

/// Bytes in MiB, rounded up so that a size just over a limit never reads as the limit.
fn mib(bytes: u64) -> String {
    thousands(bytes.div_ceil(1 << 20))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_limit_and_its_setting() {
        let e = PdfError::TooManyPages { pages: 5_000, limit: 3_000 };
        assert_eq!(e.to_string(), "the book has 5,000 pages; this instance accepts at most 3,000 (max-pages)");
        let e = PdfError::EntryTooLarge { entry: "OEBPS/c1.xhtml".into(), bytes: (64 << 20) + 1, limit: 1 << 20 };
        assert_eq!(
            e.to_string(),
            "the EPUB's OEBPS/c1.xhtml would unpack to 65 MiB; this instance accepts at most 1 MiB per file inside an \
             EPUB (max-epub-entry-mb)"
        );
        assert!(PdfError::OutlineTooDeep { limit: 8 }.to_string().contains("(max-nesting-depth)"));
        let e = PdfError::PageTooLarge { page: 2, width: 9_000, height: 9_000, dpi: 300, limit: 40_000_000 };
        assert_eq!(
            e.to_string(),
            "page 2 is 9000×9000 pixels at 300 dpi, more than the 40 million pixels a page may have \
             (max-page-megapixels)"
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
