//! Tesseract OCR for Bindery: scanned page images in, text and confidence out.
//!
//! The crate binds Tesseract's stable C API by hand (`ffi`, the only module with `unsafe`) and exposes:
//! - [`Engine`]: one Tesseract instance with its language models loaded, reused page after page;
//! - [`recognize_pages`]: a whole book on `threads` cores, one engine per thread, bounded memory, results in order;
//! - [`cer`] / [`normalise`]: character error rate, to measure accuracy against ground truth.
//!
//! Pages are passed as raw 8-bit grey pixels ([`GreyImage`]) so callers decode or render with whatever they like (the
//! PDF renderer, the `image` crate) and Tesseract never touches files.
//!
//! Threads: Tesseract is built with OpenMP and would start a team of threads per engine at every LSTM step,
//! oversubscribing the cores we already fill with one engine each (measured: twice slower on 2 cores). Setting
//! `OMP_THREAD_LIMIT=1` from inside the process does nothing, because GNU libgomp reads its environment when the
//! process loads it, before `main`; instead every recognition first calls `omp_set_max_active_levels(0)` on its own
//! thread (see `ffi::run_openmp_on_calling_thread`), which makes Tesseract's parallel regions run on that thread only.
//! Parallelism comes from [`recognize_pages`], one engine per core.
//!
//! Needs the Debian packages `libtesseract-dev` (build), `tesseract-ocr-eng` and `tesseract-ocr-fra` (models).

#![deny(unsafe_code)]

mod cer;
mod engine;
mod error;
mod ffi;
mod pool;

use std::path::PathBuf;

pub use cer::{cer, normalise};
pub use engine::Engine;
pub use error::OcrError;
pub use pool::recognize_pages;

/// Makes Tesseract's OpenMP parallel regions started from the calling thread run on that thread alone (see the crate
/// documentation), for callers that reach Tesseract some other way, such as MuPDF's OCR in `bindery bench ocr`. Our
/// own engines do this before every page. Returns whether an OpenMP runtime was found.
pub fn keep_openmp_on_this_thread() -> bool {
    ffi::run_openmp_on_calling_thread()
}

/// How to set up an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrOptions {
    /// Tesseract language codes joined by `+`: `"eng"`, `"fra"`, `"eng+fra"` (see [`language_for`]).
    pub languages: String,
    /// Resolution of the pages in dots per inch; Tesseract scales its expectations of glyph size by it.
    pub dpi: u32,
    /// Directory holding the `*.traineddata` files; `None` uses `TESSDATA_PREFIX` or the system default.
    pub datapath: Option<PathBuf>,
}

impl Default for OcrOptions {
    /// English and French at 300 dpi with the system models: the right guess for a book of unknown language.
    fn default() -> Self {
        OcrOptions { languages: language_for("und").to_string(), dpi: 300, datapath: None }
    }
}

/// The recognised text of one page.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrPage {
    /// UTF-8 text with Tesseract's layout: one line per text line, blank lines between blocks.
    pub text: String,
    /// Mean word confidence, 0 to 100 (0 when nothing was recognised).
    pub confidence: f32,
    pub width: u32,
    pub height: u32,
}

/// An 8-bit grey page image, row-major, `width * height` bytes, no row padding (0 is black, 255 white).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreyImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// Tesseract language string for an ISO 639-1 code as Bindery stores it on a book: `"en"` → `"eng"`, `"fr"` →
/// `"fra"`, anything else (including `"und"`) → `"eng+fra"`, since the corpus is English and French.
pub fn language_for(iso639_1: &str) -> &'static str {
    match iso639_1.trim().to_ascii_lowercase().as_str() {
        "en" => "eng",
        "fr" => "fra",
        _ => "eng+fra",
    }
}

/// The linked Tesseract library's version, e.g. `"5.3.0"`.
pub fn version() -> String {
    ffi::version()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes_map_to_tesseract_models() {
        assert_eq!(language_for("en"), "eng");
        assert_eq!(language_for("FR"), "fra");
        assert_eq!(language_for("und"), "eng+fra");
        assert_eq!(language_for(""), "eng+fra");
        assert_eq!(OcrOptions::default().languages, "eng+fra");
    }

    #[test]
    fn version_reports_the_linked_library() {
        let v = version();
        let major: u32 = v.split('.').next().and_then(|m| m.parse().ok()).expect("version starts with a number");
        assert!(major >= 4, "tesseract {v} is older than the C API we bind");
    }
}
