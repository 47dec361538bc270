//! How an upload's format is recognised from its first bytes (`sniff.rs`
//! in `bindery-stages`), and the description of a misnamed file that a
//! refusal quotes, on the head the ingest reads (`SNIFF_BYTES`).

#![no_main]

use bindery_stages::sniff::{pdf_header, sniff, Sniffed, SNIFF_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head = &data[..data.len().min(SNIFF_BYTES)];
    let sniffed = sniff(head);
    if sniffed == Some(Sniffed::Pdf) {
        // A PDF is recognised by a header at the start of a line in the first kilobyte.
        assert!(pdf_header(head).is_some_and(|at| at <= 1024));
    }
    let _ = bindery_pdf::describe(head);
});
