//! Generated typographic covers for books that arrive without one.
//!
//! Many uploads (plain text, scanned PDFs) have no cover, yet every book needs
//! one on a shelf. A cover is drawn from the title and author alone: the
//! background colour comes from a stable hash of the title, so a book keeps
//! its colour across rebuilds and machines while neighbouring books differ.
//! The type is DejaVu (package fonts-dejavu-core), read from the folder the
//! caller names ([`CoverFonts::load`]; the `bindery` binary's `font-dir`,
//! variable `BINDERY_FONT_DIR`) or the Debian default directory.

use std::path::Path;

use ab_glyph::{point, Font, FontVec, PxScale, ScaleFont};
use image::{Rgb, RgbImage};

use crate::error::MediaError;

/// Where Debian's fonts-dejavu-core installs the fonts.
pub const DEFAULT_FONT_DIR: &str = "/usr/share/fonts/truetype/dejavu";
/// The `bindery` binary's variable for the folder (setting `font-dir`), named in the message of a missing font;
/// this library reads no environment.
pub const FONT_DIR_ENV: &str = "BINDERY_FONT_DIR";
const TITLE_FONT: &str = "DejaVuSerif-Bold.ttf";
const AUTHOR_FONT: &str = "DejaVuSerif.ttf";
/// Cream rather than pure white: softer on the dark backgrounds the palette produces.
const INK: [u8; 3] = [250, 244, 230];
/// Widths outside this range are either unreadable or needlessly expensive to draw.
const WIDTH_RANGE: std::ops::RangeInclusive<u32> = 60..=6000;

/// The two faces a cover uses, loaded once and reusable across covers.
pub struct CoverFonts {
    title: FontVec,
    author: FontVec,
}

impl CoverFonts {
    /// Loads the fonts from [`DEFAULT_FONT_DIR`] (Debian's `fonts-dejavu-core`).
    pub fn load_default() -> Result<Self, MediaError> {
        Self::load(Path::new(DEFAULT_FONT_DIR))
    }

    /// Loads `DejaVuSerif-Bold.ttf` (title) and `DejaVuSerif.ttf` (author) from `dir`.
    pub fn load(dir: &Path) -> Result<Self, MediaError> {
        Ok(CoverFonts { title: load_font(&dir.join(TITLE_FONT))?, author: load_font(&dir.join(AUTHOR_FONT))? })
    }
}

fn load_font(path: &Path) -> Result<FontVec, MediaError> {
    let bytes = std::fs::read(path).map_err(|e| {
        MediaError::Font(format!(
            "cannot read {}: {e}; install fonts-dejavu-core or point the font-dir setting ({FONT_DIR_ENV}) at a folder holding {TITLE_FONT} and {AUTHOR_FONT}",
            path.display()
        ))
    })?;
    FontVec::try_from_vec(bytes).map_err(|e| MediaError::Font(format!("{} is not a usable font: {e}", path.display())))
}

/// Draws a 2:3 cover `width` pixels wide with the fonts of [`DEFAULT_FONT_DIR`].
pub fn typographic_cover(title: &str, author: Option<&str>, width: u32) -> Result<RgbImage, MediaError> {
    typographic_cover_with_fonts(title, author, width, &CoverFonts::load_default()?)
}

/// [`typographic_cover`] with already loaded fonts, for callers drawing many covers.
pub fn typographic_cover_with_fonts(
    title: &str,
    author: Option<&str>,
    width: u32,
    fonts: &CoverFonts,
) -> Result<RgbImage, MediaError> {
    let title = collapse_whitespace(title);
    if title.is_empty() {
        return Err(MediaError::InvalidInput("a cover needs a non-empty title".into()));
    }
    if !WIDTH_RANGE.contains(&width) {
        return Err(MediaError::InvalidInput(format!("cover width {width} outside {WIDTH_RANGE:?}")));
    }
    let height = width * 3 / 2;
    let (w, h) = (width as f32, height as f32);
    let mut img = RgbImage::from_pixel(width, height, Rgb(background_colour(&title)));

    // A thin inset frame gives the flat colour field the look of a printed cover.
    let margin = (w * 0.05).round() as u32;
    let thickness = (width / 300).max(2);
    draw_frame(&mut img, margin, thickness, 0.55);

    let text_width = w * 0.74;
    let title_block = fit_text(&fonts.title, &title, text_width, w * 0.12, w * 0.045, 6);
    let title_top = (h * 0.40 - title_block.height() / 2.0).max(h * 0.10);
    draw_block(&mut img, &fonts.title, &title_block, title_top);

    // A short rule separates the title from the author, as on classic editions.
    let rule_y = (title_top + title_block.height() + title_block.size * 0.6) as u32;
    let rule_w = (w * 0.18) as u32;
    fill_rect(&mut img, (width - rule_w) / 2, rule_y, rule_w, thickness, 0.8);

    if let Some(author) = author.map(collapse_whitespace).filter(|a| !a.is_empty()) {
        let author_block = fit_text(&fonts.author, &author, text_width, w * 0.058, w * 0.03, 2);
        let author_top = (h * 0.80 - author_block.height() / 2.0).max(rule_y as f32 + author_block.size);
        draw_block(&mut img, &fonts.author, &author_block, author_top);
    }
    Ok(img)
}

/// A deterministic, fairly dark background colour derived from the title.
///
/// FNV-1a is used instead of `std`'s hasher because its output is specified
/// and will not change with the Rust version.
pub fn background_colour(title: &str) -> [u8; 3] {
    let hash = title.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let hue = (hash % 360) as f32;
    let saturation = 0.35 + ((hash >> 16) % 25) as f32 / 100.0;
    let lightness = 0.22 + ((hash >> 32) % 12) as f32 / 100.0;
    hsl_to_rgb(hue, saturation, lightness)
}

fn hsl_to_rgb(hue: f32, saturation: f32, lightness: f32) -> [u8; 3] {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let sector = hue / 60.0;
    let x = chroma * (1.0 - (sector % 2.0 - 1.0).abs());
    let (r, g, b) = match sector as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    [r, g, b].map(|c| ((c + m) * 255.0).round().clamp(0.0, 255.0) as u8)
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Wrapped lines at a chosen pixel size.
struct TextBlock {
    size: f32,
    lines: Vec<String>,
}

impl TextBlock {
    fn line_height(&self) -> f32 {
        self.size * 1.18
    }

    fn height(&self) -> f32 {
        self.line_height() * self.lines.len() as f32
    }
}

/// Picks the largest size (from `start` down to `min`) at which `text` wraps
/// into at most `max_lines` lines that all fit `max_width`. At the minimum size
/// the text is wrapped anyway; an overlong word is then clipped by the image edge.
fn fit_text(font: &FontVec, text: &str, max_width: f32, start: f32, min: f32, max_lines: usize) -> TextBlock {
    let mut size = start;
    loop {
        let (lines, fits) = wrap(font, PxScale::from(size), text, max_width);
        if (fits && lines.len() <= max_lines) || size <= min {
            return TextBlock { size, lines };
        }
        size = (size * 0.92).max(min);
    }
}

/// Greedy word wrapping; the flag says whether every line fits.
fn wrap(font: &FontVec, scale: PxScale, text: &str, max_width: f32) -> (Vec<String>, bool) {
    let mut lines: Vec<String> = Vec::new();
    let mut fits = true;
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if measure(font, scale, &format!("{line} {word}")) <= max_width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => {
                fits &= measure(font, scale, word) <= max_width;
                lines.push(word.to_owned());
            }
        }
    }
    (lines, fits)
}

fn measure(font: &FontVec, scale: PxScale, text: &str) -> f32 {
    let scaled = font.as_scaled(scale);
    let mut width = 0.0;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(previous) = previous {
            width += scaled.kern(previous, id);
        }
        width += scaled.h_advance(id);
        previous = Some(id);
    }
    width
}

/// Draws each line centred horizontally, the first line's top at `top`.
fn draw_block(img: &mut RgbImage, font: &FontVec, block: &TextBlock, top: f32) {
    let scale = PxScale::from(block.size);
    let scaled = font.as_scaled(scale);
    let centre = img.width() as f32 / 2.0;
    for (i, line) in block.lines.iter().enumerate() {
        let baseline = top + i as f32 * block.line_height() + scaled.ascent();
        let mut x = centre - measure(font, scale, line) / 2.0;
        let mut previous = None;
        for c in line.chars() {
            let id = scaled.glyph_id(c);
            if let Some(previous) = previous {
                x += scaled.kern(previous, id);
            }
            if let Some(outline) = font.outline_glyph(id.with_scale_and_position(scale, point(x, baseline))) {
                let bounds = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    let px = bounds.min.x as i64 + i64::from(gx);
                    let py = bounds.min.y as i64 + i64::from(gy);
                    blend(img, px, py, coverage);
                });
            }
            x += scaled.h_advance(id);
            previous = Some(id);
        }
    }
}

fn draw_frame(img: &mut RgbImage, margin: u32, thickness: u32, alpha: f32) {
    let (w, h) = img.dimensions();
    let inner_w = w - 2 * margin;
    let inner_h = h - 2 * margin;
    fill_rect(img, margin, margin, inner_w, thickness, alpha);
    fill_rect(img, margin, h - margin - thickness, inner_w, thickness, alpha);
    fill_rect(img, margin, margin + thickness, thickness, inner_h - 2 * thickness, alpha);
    fill_rect(img, w - margin - thickness, margin + thickness, thickness, inner_h - 2 * thickness, alpha);
}

fn fill_rect(img: &mut RgbImage, x: u32, y: u32, width: u32, height: u32, alpha: f32) {
    for py in y..y.saturating_add(height) {
        for px in x..x.saturating_add(width) {
            blend(img, i64::from(px), i64::from(py), alpha);
        }
    }
}

/// Mixes the ink colour into one pixel; coordinates outside the image are ignored.
fn blend(img: &mut RgbImage, x: i64, y: i64, alpha: f32) {
    let (Ok(x), Ok(y)) = (u32::try_from(x), u32::try_from(y)) else { return };
    if x >= img.width() || y >= img.height() {
        return;
    }
    let alpha = alpha.clamp(0.0, 1.0);
    let pixel = img.get_pixel_mut(x, y);
    for (channel, ink) in pixel.0.iter_mut().zip(INK) {
        *channel = (f32::from(*channel) * (1.0 - alpha) + f32::from(ink) * alpha).round() as u8;
    }
}
