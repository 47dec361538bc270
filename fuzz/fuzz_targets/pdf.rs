//! A PDF upload, from `Doc::open` (header, trailer, encryption, page count,
//! outline depth) through MuPDF's reading of every page to the worker's
//! layout of the text (see `bindery_fuzz::read`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bindery_fuzz::read(data, bindery_pdf::DocKind::Pdf));
