//! The only module with `unsafe`: a hand-written binding to the handful of functions of Tesseract's stable C API
//! (`tesseract/capi.h`) that Bindery needs, wrapped in a safe [`Api`] handle.
//!
//! We bind the C API rather than the C++ one because it is ABI-stable across Tesseract 4.x and 5.x, and we write the
//! declarations by hand rather than with bindgen because we need a dozen functions, not libclang at build time.
//! Every wrapper upholds the C API's contracts (non-null handle, NUL-terminated strings, pixel buffer large enough
//! for the declared geometry, text freed with `TessDeleteText`) so that the rest of the crate is safe Rust.

#![allow(unsafe_code)] // The one module allowed to; lib.rs denies it everywhere else.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::{self, NonNull};
use std::sync::OnceLock;

/// `TessPageSegMode::PSM_AUTO`: full page layout analysis without orientation detection, the CLI's default.
pub(crate) const PSM_AUTO: c_int = 3;

// The C enums (`TessPageSegMode`) are passed as `c_int`: C enums without a fixed underlying type are `int`-sized on
// every ABI Tesseract supports, and the values above are fixed by `publictypes.h`.
//
// The library itself is linked by build.rs through pkg-config, which also brings leptonica and friends.
extern "C" {
    fn TessVersion() -> *const c_char;
    fn TessDeleteText(text: *const c_char);
    fn TessBaseAPICreate() -> *mut c_void;
    fn TessBaseAPIDelete(handle: *mut c_void);
    fn TessBaseAPIInit3(handle: *mut c_void, datapath: *const c_char, language: *const c_char) -> c_int;
    fn TessBaseAPISetPageSegMode(handle: *mut c_void, mode: c_int);
    fn TessBaseAPISetImage(
        handle: *mut c_void,
        imagedata: *const u8,
        width: c_int,
        height: c_int,
        bytes_per_pixel: c_int,
        bytes_per_line: c_int,
    );
    fn TessBaseAPISetSourceResolution(handle: *mut c_void, ppi: c_int);
    fn TessBaseAPIRecognize(handle: *mut c_void, monitor: *mut c_void) -> c_int;
    fn TessBaseAPIGetUTF8Text(handle: *mut c_void) -> *mut c_char;
    fn TessBaseAPIMeanTextConf(handle: *mut c_void) -> c_int;
    fn TessBaseAPIClear(handle: *mut c_void);
    fn TessBaseAPIEnd(handle: *mut c_void);
}

// The OpenMP runtime is not linked by us but loaded with libtesseract when Tesseract was built with OpenMP (Debian's
// is); we look its functions up at run time so that a Tesseract without OpenMP needs no libgomp at all.
#[cfg(target_os = "linux")]
extern "C" {
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}

/// Makes every OpenMP parallel region started *from the calling thread* run on that thread alone, and reports whether
/// an OpenMP runtime was found.
///
/// Tesseract's LSTM asks for a team of threads (`num_threads(4)`) at every step; with one engine per core that
/// oversubscribes the machine and roughly halves throughput. `OMP_THREAD_LIMIT=1` would fix it, but GNU libgomp reads
/// its environment once, when the process loads it (before `main`), so setting the variable from Rust has no effect.
/// `omp_set_max_active_levels(0)` does work at run time: with zero active levels allowed, a parallel region is
/// inactive and executed by its encountering thread. libgomp keeps this setting per thread, so it must be applied on
/// the thread that recognises, which is why [`Api::recognize_grey`] calls this before every page.
pub(crate) fn run_openmp_on_calling_thread() -> bool {
    type SetMaxActiveLevels = unsafe extern "C" fn(c_int);
    static SETTER: OnceLock<Option<SetMaxActiveLevels>> = OnceLock::new();
    let setter = SETTER.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            // RTLD_DEFAULT is the null handle on glibc and musl: search every object already loaded in the process.
            // SAFETY: dlsym only reads the NUL-terminated symbol name; it returns null when the symbol is absent.
            let p = unsafe { dlsym(ptr::null_mut(), c"omp_set_max_active_levels".as_ptr()) };
            // SAFETY: a non-null result is libgomp's `void omp_set_max_active_levels(int)`, whose C signature the
            // OpenMP specification fixes; a data pointer and a function pointer have the same size on Linux.
            (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, SetMaxActiveLevels>(p) })
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    });
    match setter {
        Some(set_max_active_levels) => {
            // SAFETY: the function takes a plain int, has no preconditions for non-negative values and only writes the
            // calling thread's OpenMP control variables.
            unsafe { set_max_active_levels(0) };
            true
        }
        None => false,
    }
}

/// The library's version string, e.g. `5.3.0`.
pub(crate) fn version() -> String {
    // SAFETY: TessVersion takes no arguments and returns a pointer to a static NUL-terminated string (or, defensively,
    // null, which we check); we copy it out and never free it.
    unsafe {
        let v = TessVersion();
        if v.is_null() {
            return String::new();
        }
        CStr::from_ptr(v).to_string_lossy().into_owned()
    }
}

/// An initialised `TessBaseAPI`. Dropping it ends and deletes the instance.
pub(crate) struct Api {
    handle: NonNull<c_void>,
}

// SAFETY: a TessBaseAPI instance has no thread affinity (no thread-locals tied to the creating thread); Tesseract's
// documented rule is only that one instance must not be used from two threads at once. `Api` is not `Sync` (the raw
// pointer makes it !Sync and we do not opt in), and every method that touches the instance takes `&mut self`, so the
// borrow checker enforces that rule while still letting an engine move into a worker thread.
unsafe impl Send for Api {}

impl Api {
    /// Creates and initialises an instance for `language` (`"eng"`, `"eng+fra"`); `datapath` is the tessdata
    /// directory, or `None` for `TESSDATA_PREFIX` / the compiled-in default.
    pub(crate) fn init(datapath: Option<&CStr>, language: &CStr) -> Result<Api, String> {
        // SAFETY: TessBaseAPICreate has no preconditions; it returns a new heap instance or null on allocation failure.
        let raw = unsafe { TessBaseAPICreate() };
        let handle = NonNull::new(raw).ok_or_else(|| "TessBaseAPICreate returned null".to_string())?;
        // Wrap it at once so that the instance is deleted by `Drop` on the failure path below.
        let api = Api { handle };
        let datapath_ptr = datapath.map_or(ptr::null(), CStr::as_ptr);
        // SAFETY: the handle is live; datapath is null (allowed: use the default) or a NUL-terminated string, and
        // language is NUL-terminated; both outlive the call, and Tesseract copies what it keeps.
        let rc = unsafe { TessBaseAPIInit3(api.handle.as_ptr(), datapath_ptr, language.as_ptr()) };
        if rc != 0 {
            return Err(format!("TessBaseAPIInit3 returned {rc} (missing traineddata for the language?)"));
        }
        Ok(api)
    }

    pub(crate) fn set_page_seg_mode(&mut self, mode: c_int) {
        // SAFETY: the handle is live and initialised; `mode` is one of the PSM_* constants of publictypes.h.
        unsafe { TessBaseAPISetPageSegMode(self.handle.as_ptr(), mode) }
    }

    /// Recognises one 8-bit grey image and returns `(utf8 text, mean word confidence)`.
    ///
    /// The caller has checked that `pixels.len() == width * height` and that both fit in a C `int`.
    pub(crate) fn recognize_grey(
        &mut self,
        pixels: &[u8],
        width: c_int,
        height: c_int,
        ppi: c_int,
    ) -> Result<(String, i32), String> {
        debug_assert_eq!(pixels.len() as u64, width as u64 * height as u64);
        let h = self.handle.as_ptr();
        run_openmp_on_calling_thread();
        // SAFETY: the handle is live; `pixels` holds exactly width*height bytes, which is what Tesseract reads for
        // bytes_per_pixel = 1 and bytes_per_line = width. SetImage copies the pixels into its own Pix, and in any case
        // `pixels` stays borrowed until Clear below, after which Tesseract holds no reference to it.
        unsafe {
            TessBaseAPISetImage(h, pixels.as_ptr(), width, height, 1, width);
            // Must follow SetImage, which resets the resolution.
            TessBaseAPISetSourceResolution(h, ppi);
        }
        let result = self.recognize_current();
        // SAFETY: the handle is live; Clear frees the image and results but keeps the loaded language models, which is
        // what makes one engine per thread cheap to reuse page after page.
        unsafe { TessBaseAPIClear(h) };
        result
    }

    fn recognize_current(&mut self) -> Result<(String, i32), String> {
        let h = self.handle.as_ptr();
        // SAFETY: the handle is live with an image set; a null monitor means "no progress callback, no timeout".
        let rc = unsafe { TessBaseAPIRecognize(h, ptr::null_mut()) };
        if rc != 0 {
            return Err(format!("TessBaseAPIRecognize returned {rc}"));
        }
        // SAFETY: after a successful Recognize, GetUTF8Text returns a new[]-allocated NUL-terminated string (or null
        // on failure) that we own; we copy it and release it with TessDeleteText exactly once, as capi.h requires.
        let text = unsafe {
            let p = TessBaseAPIGetUTF8Text(h);
            if p.is_null() {
                return Err("TessBaseAPIGetUTF8Text returned null".to_string());
            }
            let text = CStr::from_ptr(p).to_string_lossy().into_owned();
            TessDeleteText(p);
            text
        };
        // SAFETY: the handle is live and holds recognition results; the call only reads them.
        let confidence = unsafe { TessBaseAPIMeanTextConf(h) };
        Ok((text, confidence))
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        // SAFETY: the handle is live and owned by us alone; End releases the models, Delete frees the instance, and
        // the handle is never used again.
        unsafe {
            TessBaseAPIEnd(self.handle.as_ptr());
            TessBaseAPIDelete(self.handle.as_ptr());
        }
    }
}

/// Converts a Rust string for the C API, reporting interior NULs instead of truncating silently.
pub(crate) fn c_string(what: &str, value: &str) -> Result<CString, String> {
    CString::new(value).map_err(|_| format!("{what} contains a NUL byte"))
}
