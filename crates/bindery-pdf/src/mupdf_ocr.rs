//! MuPDF's own OCR path, built only with the `mupdf-ocr` feature so that it can be measured against `bindery-ocr`'s
//! direct Tesseract binding (`bindery bench ocr`, `scripts/bench/ocr-engines.sh`).
//!
//! MuPDF reaches Tesseract through its `pdfocr` document writer (what `mutool convert -F ocr` uses): each page is drawn
//! into a pixmap, handed to Tesseract by MuPDF's `tessocr.cpp`, and written out as a PDF page carrying the image and
//! an invisible text layer. The text is then read back from that PDF. The writer creates one Tesseract engine when it
//! is opened and reuses it for every page.
//!
//! One thread per process: MuPDF installs its own allocators into Leptonica through process-wide state and refuses a
//! second thread ("Attempt to use Leptonica from 2 threads at once!"), so pages cannot be recognised in parallel in
//! one process, unlike `bindery_ocr::recognize_pages` with one engine per core.
//!
//! The pipeline does not use this path: it draws each page in colour (there is no way to hand the writer raw grey
//! pixels), writes a PDF nobody needs, and its page text comes back through a second parse. The benchmark shows what
//! that costs; see docs/benchmarks.md.

use crate::PdfError;
use mupdf::{Document, DocumentWriter, Matrix, TextPageFlags};
use std::path::{Path, PathBuf};

/// The resolution pages are drawn and recognised at, as in `bindery bench ocr`'s own path.
const DPI: u32 = 300;

/// One Tesseract engine inside one MuPDF `pdfocr` writer, fed page images one at a time.
pub struct MupdfOcr {
    writer: Option<DocumentWriter>,
    out: PathBuf,
}

impl MupdfOcr {
    /// Opens a writer that records its output in `out` (a scratch PDF) and loads the Tesseract models for
    /// `languages` (`"eng"`, `"fra"`, `"eng+fra"`) from `TESSDATA_PREFIX` or Tesseract's compiled-in default.
    pub fn new(out: &Path, languages: &str) -> Result<Self, PdfError> {
        let path = out.to_str().ok_or_else(|| PdfError::Corrupt("scratch path is not UTF-8".into()))?;
        // 300 dpi, as our own path; Tesseract is told the pixmap's resolution. Pages are drawn in RGB, the writer's
        // default, and MuPDF turns them grey for Tesseract itself. `colorspace=gray` would be the natural choice but
        // hits a MuPDF 1.27.2 bug: for one-component pixmaps `post_skew_write_band` copies the band's first row into
        // every row of the OCR bitmap (its source pointer never advances), so Tesseract sees a blank page.
        let mut options = format!("ocr-language={languages},resolution={DPI}");
        // MuPDF's bundled Tesseract has no compiled-in model folder; point it at Debian's unless TESSDATA_PREFIX is set.
        let debian = Path::new("/usr/share/tesseract-ocr/5/tessdata");
        if std::env::var_os("TESSDATA_PREFIX").is_none() && debian.is_dir() {
            options.push_str(&format!(",ocr-datadir={}", debian.display()));
        }
        let writer = DocumentWriter::with_ocr(path, &options)?;
        Ok(MupdfOcr { writer: Some(writer), out: out.to_path_buf() })
    }

    /// Recognises one image file (PNG, JPEG, TIFF) at its own pixel size, taken to be 300 dpi: MuPDF opens it as a
    /// one-page document, and it is drawn at the scale that maps its bounds back onto `width_px` pixels.
    pub fn add_image(&mut self, image: &Path, width_px: u32) -> Result<(), PdfError> {
        let path = image.to_str().ok_or_else(|| PdfError::Corrupt("image path is not UTF-8".into()))?;
        let doc = Document::open(path)?;
        let page = doc.load_page(0)?;
        let bounds = page.bounds()?;
        // The writer's draw device renders its media box (in points) at DPI, so a media box of the image's pixel
        // size in points at DPI, with the page scaled onto it, gives back the image's own pixels.
        let scale = width_px as f32 * 72.0 / DPI as f32 / (bounds.x1 - bounds.x0).max(1.0);
        let writer = self.writer.as_mut().expect("writer is open until finish");
        let media =
            mupdf::Rect { x0: 0.0, y0: 0.0, x1: (bounds.x1 - bounds.x0) * scale, y1: (bounds.y1 - bounds.y0) * scale };
        let device = writer.begin_page(media)?;
        page.run(&device, &Matrix::new_scale(scale, scale))?;
        writer.end_page(device)?;
        Ok(())
    }

    /// Closes the writer and returns each page's recognised text, in the order the images were added.
    pub fn finish(mut self) -> Result<Vec<String>, PdfError> {
        drop(self.writer.take());
        let path = self.out.to_str().ok_or_else(|| PdfError::Corrupt("scratch path is not UTF-8".into()))?;
        let doc = Document::open(path)?;
        let mut texts = Vec::new();
        for n in 0..doc.page_count()? {
            texts.push(doc.load_page(n)?.to_text_page(TextPageFlags::empty())?.to_text()?);
        }
        Ok(texts)
    }
}
