//! [`Engine`]: one initialised Tesseract instance that recognises raw 8-bit grey pages one after another.
//!
//! Loading the language models is the expensive part of Tesseract (hundreds of milliseconds and tens of megabytes), so
//! an engine is created once and reused for every page a thread handles; `TessBaseAPIClear` between pages keeps the
//! models and drops only the page.

use std::ffi::c_int;

use crate::error::OcrError;
use crate::ffi::{self, Api};
use crate::{OcrOptions, OcrPage};

/// One Tesseract instance. It is `Send` (it may move into a worker thread) but not `Sync`: Tesseract forbids using an
/// instance from two threads at once, and `recognize` takes `&mut self` so that cannot happen.
pub struct Engine {
    api: Api,
    languages: String,
    dpi: c_int,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("languages", &self.languages).field("dpi", &self.dpi).finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads the models for `opts.languages`. Fails with [`OcrError::Init`] when the traineddata is missing.
    pub fn new(opts: &OcrOptions) -> Result<Engine, OcrError> {
        let init_err = |reason: String| OcrError::Init { languages: opts.languages.clone(), reason };
        if opts.languages.trim().is_empty() {
            return Err(init_err("no language given".into()));
        }
        let dpi = c_int::try_from(opts.dpi).ok().filter(|d| (70..=2400).contains(d));
        let dpi = dpi.ok_or_else(|| init_err(format!("dpi {} outside 70..=2400", opts.dpi)))?;
        let language = ffi::c_string("language", &opts.languages).map_err(init_err)?;
        let datapath = match &opts.datapath {
            None => None,
            Some(p) => {
                let s = p.to_str().ok_or_else(|| init_err(format!("datapath {p:?} is not UTF-8")))?;
                Some(ffi::c_string("datapath", s).map_err(init_err)?)
            }
        };
        let mut api = Api::init(datapath.as_deref(), &language).map_err(init_err)?;
        // Book pages are full pages with headers, columns and figures: let Tesseract find the blocks itself, exactly
        // like the `tesseract` CLI does by default, so our output is comparable with it.
        api.set_page_seg_mode(ffi::PSM_AUTO);
        Ok(Engine { api, languages: opts.languages.clone(), dpi })
    }

    /// The Tesseract language string this engine was initialised with, e.g. `"eng+fra"`.
    pub fn languages(&self) -> &str {
        &self.languages
    }

    /// Recognises one page of 8-bit grey pixels, row-major, `width * height` bytes, no row padding.
    pub fn recognize(&mut self, grey: &[u8], width: u32, height: u32) -> Result<OcrPage, OcrError> {
        let (w, h) = match (c_int::try_from(width), c_int::try_from(height)) {
            (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
            _ => return Err(OcrError::BadImage(format!("dimensions {width}x{height} are empty or too large"))),
        };
        let expected = u64::from(width) * u64::from(height);
        if grey.len() as u64 != expected {
            return Err(OcrError::BadImage(format!(
                "{width}x{height} grey image needs {expected} bytes, got {}",
                grey.len()
            )));
        }
        let (text, confidence) = self.api.recognize_grey(grey, w, h, self.dpi).map_err(OcrError::Recognize)?;
        Ok(OcrPage { text, confidence: confidence.clamp(0, 100) as f32, width, height })
    }
}
