//! The single error type of `bindery-media`.
//!
//! Pipeline stages decide between "retry later" and "fail the job" from the
//! error alone, so every failure is classified here: a timeout or a tool killed
//! by a signal may well succeed on another attempt, while undecodable input, an
//! oversized image or a missing system package will fail the same way forever.

use std::time::Duration;

/// Everything that can go wrong while narrating, encoding, drawing or decoding media.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// A required external program is not installed (or not on `PATH`).
    #[error("`{tool}` is not installed or not on PATH: {hint}")]
    MissingTool { tool: &'static str, hint: &'static str },

    /// An external program did not finish within the allotted time; it has been killed.
    #[error("`{tool}` did not finish within {after:?} and was killed")]
    Timeout { tool: &'static str, after: Duration },

    /// An external program exited unsuccessfully. `status` is the exit code, or
    /// `None` when it was terminated by a signal (or could not be started).
    #[error("`{tool}` failed (exit status {status:?}): {stderr_tail}")]
    ToolFailed { tool: &'static str, status: Option<i32>, stderr_tail: String },

    /// An image whose header announces more pixels (or memory) than allowed; nothing was decoded.
    #[error("image of {width}×{height} pixels exceeds the limit of {max_pixels} pixels / {max_alloc} bytes")]
    TooLarge { width: u32, height: u32, max_pixels: u64, max_alloc: u64 },

    /// The caller asked for something that cannot be produced (empty text, zero width, …).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The bytes are not a decodable image in a supported format (PNG, JPEG, TIFF, WebP). The message says why
    /// in an uploader's words ("the PNG file is cut short"), never the decoder's.
    #[error("{0}")]
    Decode(String),

    /// An encoder rejected the image.
    #[error("cannot encode image: {0}")]
    Encode(String),

    /// A font needed for a generated cover is missing or unreadable.
    #[error("font problem: {0}")]
    Font(String),
}

impl MediaError {
    /// Whether trying the same operation again may succeed.
    ///
    /// Timeouts and tools killed by a signal (for instance by the OOM killer)
    /// depend on the machine's load, so they are worth another attempt. Bad
    /// input, a missing tool or font, and a tool that exits with an error code
    /// are deterministic: retrying would only waste time.
    pub fn is_retryable(&self) -> bool {
        match self {
            MediaError::Timeout { .. } => true,
            MediaError::ToolFailed { status, .. } => status.is_none(),
            MediaError::MissingTool { .. }
            | MediaError::TooLarge { .. }
            | MediaError::InvalidInput(_)
            | MediaError::Decode(_)
            | MediaError::Encode(_)
            | MediaError::Font(_) => false,
        }
    }
}
