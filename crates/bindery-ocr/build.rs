//! Finds libtesseract through pkg-config so the hand-written FFI in `src/ffi.rs` links against the system library.
//!
//! We deliberately do not vendor or build Tesseract: the Debian package is the supported way to get it, and a
//! missing library should fail the build with a message that says exactly what to install.

fn main() {
    // Tesseract 4 introduced the LSTM engine and the C API we bind; anything older is not worth supporting.
    match pkg_config::Config::new().atleast_version("4.0").probe("tesseract") {
        Ok(lib) => {
            // pkg-config already emitted the link lines; record the version for `cargo build -vv` readers.
            println!("cargo:version={}", lib.version);
        }
        Err(err) => panic!(
            "bindery-ocr needs the Tesseract C library (>= 4.0) and pkg-config to find it.\n\
             On Debian/Ubuntu install it with:\n    \
             apt-get install -y pkg-config libtesseract-dev tesseract-ocr-eng tesseract-ocr-fra\n\
             pkg-config said: {err}"
        ),
    }
}
