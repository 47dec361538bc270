//! Responsive image renditions: one picture, several widths, several formats.
//!
//! Covers and illustrations are served to phones and desktops alike, so each
//! is stored at a few widths and in a modern format (WebP) next to a
//! universally supported one (JPEG) or a lossless one (PNG). Resizing keeps
//! the aspect ratio and uses a Lanczos filter, which keeps type sharp on covers.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::{resize, FilterType};
use image::{ExtendedColorType, ImageEncoder, RgbImage};
use serde::{Deserialize, Serialize};

use crate::error::MediaError;

/// JPEG quality: visually clean for covers at roughly a third of the size of quality 95.
pub const JPEG_QUALITY: u8 = 82;
/// Lossy WebP quality (libwebp scale 0–100), comparable to JPEG 82 at a smaller size.
pub const WEBP_QUALITY: f32 = 80.0;
/// libwebp's speed/size trade-off, 0 (fastest) to 6 (smallest).
pub const WEBP_METHOD: i32 = 0;
/// The largest width or height WebP can store.
const WEBP_MAX_DIMENSION: u32 = 16_383;

/// An output image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// Lossy WebP via libwebp.
    Webp,
    /// Baseline JPEG at quality [`JPEG_QUALITY`].
    Jpeg,
    /// Lossless PNG.
    Png,
}

impl ImageFormat {
    pub fn media_type(self) -> &'static str {
        match self {
            ImageFormat::Webp => "image/webp",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Webp => "webp",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
        }
    }
}

/// One encoded rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedImage {
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    pub bytes: Vec<u8>,
}

/// Resizes `img` to each of `widths` (height follows the aspect ratio, at least
/// 1 pixel) and encodes every size in every format, widths outermost.
///
/// Each requested width is honoured exactly, upscaling included, so callers get
/// the sizes their layout expects; pass only widths up to the source width to
/// avoid blurry enlargements. The source width itself is copied, not resampled.
pub fn encode_sizes(img: &RgbImage, widths: &[u32], formats: &[ImageFormat]) -> Result<Vec<EncodedImage>, MediaError> {
    let (src_w, src_h) = img.dimensions();
    if src_w == 0 || src_h == 0 {
        return Err(MediaError::InvalidInput("cannot resize an empty image".into()));
    }
    let mut out = Vec::with_capacity(widths.len() * formats.len());
    for &width in widths {
        if width == 0 {
            return Err(MediaError::InvalidInput("a target width of 0 pixels".into()));
        }
        let height = scaled_height(src_w, src_h, width);
        let resized;
        let sized = if width == src_w {
            img
        } else {
            resized = resize(img, width, height, FilterType::Lanczos3);
            &resized
        };
        for &format in formats {
            let bytes = encode(sized, format)?;
            out.push(EncodedImage { width, height, format, bytes });
        }
    }
    Ok(out)
}

/// The height that keeps the aspect ratio at `width`, rounded to the nearest pixel.
pub fn scaled_height(src_w: u32, src_h: u32, width: u32) -> u32 {
    let height = (u64::from(src_h) * u64::from(width) + u64::from(src_w) / 2) / u64::from(src_w);
    u32::try_from(height).unwrap_or(u32::MAX).max(1)
}

/// Encodes one image in one format.
pub fn encode(img: &RgbImage, format: ImageFormat) -> Result<Vec<u8>, MediaError> {
    let (w, h) = img.dimensions();
    let mut bytes = Vec::new();
    match format {
        ImageFormat::Jpeg => JpegEncoder::new_with_quality(Cursor::new(&mut bytes), JPEG_QUALITY)
            .write_image(img.as_raw(), w, h, ExtendedColorType::Rgb8)
            .map_err(|e| MediaError::Encode(format!("JPEG: {e}")))?,
        ImageFormat::Png => PngEncoder::new(Cursor::new(&mut bytes))
            .write_image(img.as_raw(), w, h, ExtendedColorType::Rgb8)
            .map_err(|e| MediaError::Encode(format!("PNG: {e}")))?,
        ImageFormat::Webp => {
            if w > WEBP_MAX_DIMENSION || h > WEBP_MAX_DIMENSION {
                return Err(MediaError::Encode(format!("WebP cannot hold {w}×{h} pixels (max {WEBP_MAX_DIMENSION})")));
            }
            // The fastest method: thumbnails of a 184-page book took 3.3 s of
            // its 3.8 s at libwebp's default (4), 1.75 s at 2, 1.25 s at 0.
            let mut config = webp::WebPConfig::new().map_err(|_| MediaError::Encode("WebP: no config".into()))?;
            config.quality = WEBP_QUALITY;
            config.method = WEBP_METHOD;
            let memory = webp::Encoder::from_rgb(img.as_raw(), w, h)
                .encode_advanced(&config)
                .map_err(|e| MediaError::Encode(format!("WebP: {e:?}")))?;
            bytes.extend_from_slice(&memory);
        }
    }
    Ok(bytes)
}
