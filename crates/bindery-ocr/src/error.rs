//! Errors of the OCR crate, one variant per way a page can fail so the OCR stage can tell a broken install (fatal for
//! every page) from a broken page (skip it, keep the book).

/// What went wrong while setting up Tesseract or recognising a page.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// The engine could not be created: usually the traineddata for a language is not installed.
    #[error("cannot initialise tesseract for {languages:?}: {reason}")]
    Init { languages: String, reason: String },
    /// The pixels do not describe a valid 8-bit grey image.
    #[error("bad image: {0}")]
    BadImage(String),
    /// Tesseract accepted the image but failed to recognise it.
    #[error("recognition failed: {0}")]
    Recognize(String),
    /// A page could not be produced (decoded, rendered) by the caller's page source.
    #[error("page source failed: {0}")]
    Source(String),
    /// A worker thread panicked; its page has no result.
    #[error("OCR worker thread panicked")]
    WorkerPanicked,
}
