//! Media production for Bindery: narration, image renditions, covers and safe decoding.
//!
//! Several pipeline stages turn text into media or media into text: chapters
//! become audio (espeak-ng piped into ffmpeg), covers and illustrations become
//! responsive WebP/JPEG/PNG renditions, books without a cover get a generated
//! typographic one, and uploaded scans are decoded to grey for OCR behind a
//! decompression-bomb check. Keeping these here gives the stages one error
//! type ([`MediaError`], with [`MediaError::is_retryable`]) and one place that
//! knows which system packages are needed: espeak-ng, ffmpeg and
//! fonts-dejavu-core.

mod cover;
mod decode;
pub mod duration;
mod encode;
mod error;
mod narrate;
mod preview;

pub use cover::{
    background_colour, typographic_cover, typographic_cover_with_fonts, CoverFonts, DEFAULT_FONT_DIR, FONT_DIR_ENV,
};
pub use decode::{
    decode_grey_limited, decode_grey_page, decode_grey_with_limits, image_pages, DecodeLimits, DEFAULT_MAX_ALLOC,
    DEFAULT_MAX_PIXELS,
};
pub use encode::{encode, encode_sizes, scaled_height, EncodedImage, ImageFormat, JPEG_QUALITY, WEBP_QUALITY};
pub use error::MediaError;
pub use narrate::{narrate, tool_versions, voice_for_language, AudioFormat, NarrateOptions, Narration, ToolVersions};
pub use preview::{preview_text, MAX_BYTES_PER_WORD};

/// Re-exported so callers name the same `image` version as this crate's signatures.
pub use image;
