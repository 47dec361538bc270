//! Decoding uploaded images for OCR without trusting their headers.
//!
//! Scans arrive from users, and an image format lets a tiny file claim
//! enormous dimensions (a "decompression bomb"): a 100 000 × 100 000 PNG of a
//! few hundred bytes would ask for 10 GB once decoded. The dimensions are
//! therefore read from the header first and checked against a pixel budget,
//! and the decoder then runs under an allocation limit as a second line of
//! defence, before anything of the announced size is allocated.

use std::io::Cursor;

use image::error::ImageError;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader, Limits};

use crate::error::MediaError;

/// Default pixel budget: 100 megapixels, well above a 600 dpi A3 scan.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;
/// Default allocation budget for the decoder's buffers: 512 MiB.
pub const DEFAULT_MAX_ALLOC: u64 = 512 * 1024 * 1024;

/// Resource limits for [`decode_grey_with_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted width × height, checked from the header before decoding.
    pub max_pixels: u64,
    /// Largest memory the decoder may allocate (the decoded image in its native depth included).
    pub max_alloc: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_pixels: DEFAULT_MAX_PIXELS, max_alloc: DEFAULT_MAX_ALLOC }
    }
}

/// Decodes a PNG, JPEG, TIFF or WebP image to 8-bit grey, refusing images of more than
/// `max_pixels` pixels (and decoders needing more than [`DEFAULT_MAX_ALLOC`] bytes).
pub fn decode_grey_limited(bytes: &[u8], max_pixels: u64) -> Result<GrayImage, MediaError> {
    decode_grey_with_limits(bytes, &DecodeLimits { max_pixels, ..DecodeLimits::default() })
}

/// [`decode_grey_limited`] with both limits explicit.
///
/// EXIF/TIFF orientation is applied (phone photos of pages are often stored
/// sideways), and transparent areas are composited onto white, the colour of
/// paper, so that OCR does not see black text on a black background.
pub fn decode_grey_with_limits(bytes: &[u8], limits: &DecodeLimits) -> Result<GrayImage, MediaError> {
    let format = supported_format(bytes)?;
    let (width, height) = header_dimensions(bytes, format, limits.max_alloc)?;
    let too_large =
        || MediaError::TooLarge { width, height, max_pixels: limits.max_pixels, max_alloc: limits.max_alloc };
    let pixels = u64::from(width) * u64::from(height);
    // The grey output alone needs one byte per pixel, so it must fit the allocation budget too.
    if pixels > limits.max_pixels || pixels > limits.max_alloc {
        return Err(too_large());
    }

    let mut decoder_limits = Limits::default();
    decoder_limits.max_alloc = Some(limits.max_alloc);
    decoder_limits.max_image_width = Some(width);
    decoder_limits.max_image_height = Some(height);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decoder_limits);
    let map_err = |e: ImageError| match e {
        ImageError::Limits(_) => too_large(),
        other => undecodable(format, other),
    };
    let mut decoder = reader.into_decoder().map_err(map_err)?;
    if decoder.total_bytes() > limits.max_alloc {
        return Err(too_large());
    }
    // A missing or unreadable orientation tag simply means "as stored".
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(map_err)?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(to_grey_on_white(image))
}

/// Width and height as announced by the header; no pixel data is read.
///
/// Constructing a decoder only parses headers, so nothing of the image's size
/// is allocated here; the allocation budget still applies to whatever the
/// header parser itself needs (metadata chunks, TIFF directories).
fn header_dimensions(bytes: &[u8], format: image::ImageFormat, max_alloc: u64) -> Result<(u32, u32), MediaError> {
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_alloc);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    reader.into_dimensions().map_err(|e| match e {
        ImageError::Limits(_) => MediaError::Decode(format!(
            "the {} file's header needs more than {} MiB to read: the file is damaged or made to exhaust memory",
            format_name(format),
            max_alloc.div_ceil(1 << 20)
        )),
        other => undecodable(format, other),
    })
}

/// Why the decoder gave up, in an uploader's words, with what to do. The
/// decoder's own words (chunk names, Huffman tables) help no uploader; they
/// go to the log.
fn undecodable(format: image::ImageFormat, e: ImageError) -> MediaError {
    tracing::debug!(error = %e, "image decoder refused the file");
    let name = format_name(format);
    MediaError::Decode(match e {
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("the {name} file is cut short (an interrupted transfer?); upload a complete copy")
        }
        ImageError::Unsupported(_) => {
            format!("it uses a kind of {name} this instance cannot read; convert it to PNG or JPEG and upload it again")
        }
        _ => format!("the {name} file is damaged; upload an undamaged copy"),
    })
}

/// The name an uploader knows a format by.
fn format_name(format: image::ImageFormat) -> &'static str {
    use image::ImageFormat as F;
    match format {
        F::Png => "PNG",
        F::Jpeg => "JPEG",
        F::Tiff => "TIFF",
        F::WebP => "WebP",
        _ => "image",
    }
}

fn supported_format(bytes: &[u8]) -> Result<image::ImageFormat, MediaError> {
    use image::ImageFormat as F;
    // `image` guesses classic TIFF only; its TIFF decoder reads BigTIFF too.
    if bytes.starts_with(b"II+\0") || bytes.starts_with(b"MM\0+") {
        return Ok(F::Tiff);
    }
    match image::guess_format(bytes) {
        Ok(format @ (F::Png | F::Jpeg | F::Tiff | F::WebP)) => Ok(format),
        Ok(other) => Err(MediaError::Decode(format!(
            "it is a {} image, which this instance does not read; convert it to PNG or JPEG and upload it again",
            other.extensions_str().first().map_or_else(|| format!("{other:?}"), |e| e.to_ascii_uppercase())
        ))),
        Err(_) => Err(MediaError::Decode("it is not a PNG, JPEG, TIFF or WebP image".into())),
    }
}

/// How many pages an image holds: a TIFF may hold many (a scanned book, a
/// fax), every other format one. At most `max_pages` are counted; a chain of
/// directories that loops back on itself ends where it loops.
pub fn image_pages(bytes: &[u8], max_pages: u32) -> Result<u32, MediaError> {
    match supported_format(bytes)? {
        image::ImageFormat::Tiff => Ok(tiff_directories(bytes, max_pages)?.len() as u32),
        _ => Ok(1),
    }
}

/// Decodes page `index` (0-based) of an image to grey, as
/// [`decode_grey_with_limits`] decodes the first. `image` decodes only the
/// first page of a TIFF, so for a later page the copy it is handed says that
/// page's directory comes first: the pages of a TIFF are a linked list of
/// directories, and the header holds the offset of the first.
pub fn decode_grey_page(bytes: &[u8], index: u32, limits: &DecodeLimits) -> Result<GrayImage, MediaError> {
    if index == 0 {
        return decode_grey_with_limits(bytes, limits);
    }
    let directories = tiff_directories(bytes, index + 1)?;
    let Some(&offset) = directories.get(index as usize) else {
        return Err(MediaError::Decode(format!("the image has no page {}", index + 1)));
    };
    let mut copy = bytes.to_vec();
    let big_endian = bytes.starts_with(b"MM");
    if bytes[2..4] == [0, 42] || bytes[2..4] == [42, 0] {
        let offset = offset as u32;
        copy[4..8].copy_from_slice(&if big_endian { offset.to_be_bytes() } else { offset.to_le_bytes() });
    } else {
        copy[8..16].copy_from_slice(&if big_endian { offset.to_be_bytes() } else { offset.to_le_bytes() });
    }
    decode_grey_with_limits(&copy, limits)
}

/// The offsets of a TIFF's image file directories (one per page), classic
/// or BigTIFF, following the chain from the header; at most `max` of them.
fn tiff_directories(bytes: &[u8], max: u32) -> Result<Vec<u64>, MediaError> {
    let damaged = || MediaError::Decode("the TIFF's list of pages is damaged".into());
    let big_endian = match bytes.get(..2) {
        Some(b"II") => false,
        Some(b"MM") => true,
        _ => return Err(damaged()),
    };
    let read = |at: u64, len: usize| -> Result<u64, MediaError> {
        let at = usize::try_from(at).map_err(|_| damaged())?;
        let raw = bytes.get(at..at.checked_add(len).ok_or_else(damaged)?).ok_or_else(damaged)?;
        let mut value = [0u8; 8];
        if big_endian {
            value[8 - len..].copy_from_slice(raw);
            Ok(u64::from_be_bytes(value))
        } else {
            value[..len].copy_from_slice(raw);
            Ok(u64::from_le_bytes(value))
        }
    };
    // Classic TIFF: 2-byte entry counts, 12-byte entries, 4-byte offsets; BigTIFF: 8, 20 and 8.
    let (count_len, entry_len, offset_len, first) = match read(2, 2)? {
        42 => (2, 12, 4, read(4, 4)?),
        43 => (8, 20, 8, read(8, 8)?),
        _ => return Err(damaged()),
    };
    let mut directories = Vec::new();
    let mut next = first;
    while next != 0 && (directories.len() as u32) < max {
        if directories.contains(&next) {
            break;
        }
        directories.push(next);
        let entries = read(next, count_len)?;
        let after = entries.checked_mul(entry_len).and_then(|n| n.checked_add(next + count_len as u64));
        next = read(after.ok_or_else(damaged)?, offset_len)?;
    }
    if directories.is_empty() {
        return Err(damaged());
    }
    Ok(directories)
}

fn to_grey_on_white(image: DynamicImage) -> GrayImage {
    if !image.color().has_alpha() {
        return image.into_luma8();
    }
    let grey_alpha = image.into_luma_alpha8();
    GrayImage::from_fn(grey_alpha.width(), grey_alpha.height(), |x, y| {
        let [luma, alpha] = grey_alpha.get_pixel(x, y).0;
        let (luma, alpha) = (u32::from(luma), u32::from(alpha));
        image::Luma([((luma * alpha + 255 * (255 - alpha) + 127) / 255) as u8])
    })
}
