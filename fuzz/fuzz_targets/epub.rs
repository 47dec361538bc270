//! An EPUB upload, from `Doc::open` (the ZIP's entries and sizes, the
//! reading order, the depth of every markup entry) through MuPDF's layout
//! of the book to the worker's reading of its pages (see
//! `bindery_fuzz::read`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bindery_fuzz::read(data, bindery_pdf::DocKind::Epub));
