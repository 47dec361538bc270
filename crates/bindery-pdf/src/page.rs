//! One page's text as MuPDF sees it, and whether it needs OCR.

use crate::error::PdfError;
use mupdf::text_page::{TextBlockType, TextCharFlags};
use mupdf::{Cookie, Device, DisplayList, Matrix, Page, TextPageFlags};
use serde::{Deserialize, Serialize};

/// A line of text with its box (points, origin top-left) and font size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextLine {
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
    /// The largest character size on the line, in points.
    pub size: f32,
    pub bold: bool,
    pub text: String,
    /// MuPDF's block number on the page; in reflowed documents (EPUB) a
    /// block is exactly one paragraph or heading.
    #[serde(default)]
    pub block: u32,
}

/// A page's lines in MuPDF's block order, and the counts that decide OCR.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PageText {
    /// 1-based.
    pub number: u32,
    pub width: f32,
    pub height: f32,
    pub lines: Vec<TextLine>,
    /// Visible characters, excluding whitespace.
    pub chars: u32,
    /// Characters drawn neither filled nor stroked: the invisible layer an
    /// earlier OCR pass leaves over a scan.
    pub invisible: u32,
    /// U+FFFD: glyphs the PDF gives no Unicode for.
    pub unmapped: u32,
    /// Image blocks on the page.
    pub images: u32,
    /// The resolution of the largest image as placed on the page, in dots
    /// per inch: a scan is best recognised at its own resolution, not
    /// resampled to a fixed one.
    #[serde(default)]
    pub image_dpi: Option<f32>,
    /// Errors MuPDF met and read past in the page's content: a garbled or
    /// cut-off stream's syntax errors, resources (images, fonts, colour
    /// spaces) the page names but the file lacks. What followed an error may
    /// be missing, so a page with any is damaged. Left out of the page's
    /// JSON when zero, so a sound page reads as it always did.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub errors: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Why a page's text layer cannot be trusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OcrNeed {
    /// The text layer is usable.
    No,
    /// No text at all (a scan, or a page that is one picture).
    NoText,
    /// Most glyphs have no Unicode mapping.
    Unmapped,
    /// The text is an invisible layer, usually an earlier OCR pass.
    Invisible,
}

impl PageText {
    /// The resolution to render this page at for OCR: its scan's own,
    /// within sensible bounds, else 300 dpi.
    pub fn ocr_dpi(&self) -> u32 {
        self.image_dpi.map(|d| d.round().clamp(150.0, 450.0) as u32).unwrap_or(300)
    }

    /// Decides whether the page should go through OCR. Blank pages (no text
    /// and no image) need nothing: OCR would only find noise.
    pub fn ocr_need(&self) -> OcrNeed {
        let total = self.chars + self.invisible;
        if total < 8 {
            return if self.images > 0 { OcrNeed::NoText } else { OcrNeed::No };
        }
        if self.unmapped * 3 > total {
            OcrNeed::Unmapped
        } else if self.invisible * 2 > total && self.images > 0 {
            OcrNeed::Invisible
        } else {
            OcrNeed::No
        }
    }
}

/// Reads a loaded page's structured text. The page is first recorded into
/// a display list under a cookie, MuPDF's own count of the errors it read
/// past while interpreting a page (extracting the text directly counts
/// none); the text is then taken from the list, the same text either way.
pub(crate) fn extract(page: &Page, number: u32) -> Result<PageText, PdfError> {
    let bounds = page.bounds()?;
    let mut list = DisplayList::new(bounds)?;
    let cookie = Cookie::new()?;
    {
        // Dropping the device closes it, which finishes the list.
        let device = Device::from_display_list(&mut list)?;
        page.run_with_cookie(&device, &Matrix::IDENTITY, &cookie)?;
    }
    let text_page = list.to_text_page(TextPageFlags::PRESERVE_IMAGES)?;
    let mut out = PageText {
        number,
        width: bounds.x1 - bounds.x0,
        height: bounds.y1 - bounds.y0,
        errors: cookie.errors().max(0) as u32,
        ..PageText::default()
    };
    let mut largest = 0f32;
    for (block_no, block) in text_page.blocks().enumerate() {
        match block.r#type() {
            TextBlockType::Image => {
                out.images += 1;
                let b = block.bounds();
                let area = (b.x1 - b.x0) * (b.y1 - b.y0);
                if let Some(img) = block.image().filter(|_| area > largest && b.x1 > b.x0) {
                    largest = area;
                    out.image_dpi = Some(img.width() as f32 / ((b.x1 - b.x0) / 72.0));
                }
            }
            TextBlockType::Text => {
                for line in block.lines() {
                    let b = line.bounds();
                    let mut text = String::new();
                    let (mut size, mut bold, mut n) = (0f32, 0u32, 0u32);
                    for ch in line.chars() {
                        let c = ch.char().unwrap_or('\u{FFFD}');
                        text.push(c);
                        if c.is_whitespace() {
                            continue;
                        }
                        let flags = ch.flags();
                        if !flags.intersects(TextCharFlags::FILLED | TextCharFlags::STROKED) {
                            out.invisible += 1;
                            continue;
                        }
                        out.chars += 1;
                        n += 1;
                        if c == '\u{FFFD}' {
                            out.unmapped += 1;
                        }
                        size = size.max(ch.size());
                        bold += flags.contains(TextCharFlags::BOLD) as u32;
                    }
                    let text = text.trim().to_owned();
                    if n == 0 || text.is_empty() {
                        continue;
                    }
                    out.lines.push(TextLine {
                        x0: b.x0 - bounds.x0,
                        y0: b.y0 - bounds.y0,
                        x1: b.x1 - bounds.x0,
                        y1: b.y1 - bounds.y0,
                        size,
                        bold: bold * 2 > n,
                        text,
                        block: block_no as u32,
                    });
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(chars: u32, invisible: u32, unmapped: u32, images: u32) -> PageText {
        PageText { chars, invisible, unmapped, images, ..PageText::default() }
    }

    #[test]
    fn decides_when_a_page_needs_ocr() {
        assert_eq!(page(1500, 0, 0, 0).ocr_need(), OcrNeed::No);
        assert_eq!(page(0, 0, 0, 1).ocr_need(), OcrNeed::NoText);
        assert_eq!(page(0, 0, 0, 0).ocr_need(), OcrNeed::No, "a blank page needs no OCR");
        assert_eq!(page(900, 0, 600, 0).ocr_need(), OcrNeed::Unmapped);
        assert_eq!(page(10, 1200, 0, 1).ocr_need(), OcrNeed::Invisible);
        assert_eq!(page(1200, 30, 0, 1).ocr_need(), OcrNeed::No, "a little hidden text is not an OCR layer");
    }
}
