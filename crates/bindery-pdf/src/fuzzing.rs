//! The checks [`crate::Doc::open`] runs on an EPUB before MuPDF sees it,
//! callable on bytes for the fuzz targets in `fuzz/` (see
//! docs/security.md). Through `Doc::open` they are reached only inside a
//! valid ZIP whose entries' checksums match, which random mutations of an
//! archive almost never keep; called directly, the fuzzer explores the
//! markup scanner and the package reader themselves. Not part of the API.

use crate::error::PdfError;
use std::io::Cursor;

/// The first nesting depth beyond `limit` that `markup` reaches, as the
/// check of every markup entry of an EPUB measures it.
pub fn markup_deeper_than(markup: &[u8], limit: usize) -> Option<usize> {
    crate::markup::deeper_than(markup, limit).expect("reading a slice cannot fail")
}

/// The reading-order check of an EPUB given as the bytes of its ZIP archive.
pub fn check_spine(archive: &[u8]) -> Result<(), PdfError> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(archive)).map_err(|e| PdfError::Corrupt(format!("not a valid ZIP: {e}")))?;
    crate::epub::check_spine(&mut zip)
}
