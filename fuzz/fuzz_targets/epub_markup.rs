//! The streaming scanner that measures how deeply an EPUB's markup nests
//! before MuPDF (which recurses) lays it out, on any bytes, under the
//! default limit (`max-nesting-depth`, 256). Its memory must stay within
//! the limit's worth of element names whatever the input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limit = bindery_pdf::OpenOptions::default().max_depth as usize;
    if let Some(depth) = bindery_pdf::fuzzing::markup_deeper_than(data, limit) {
        // The scanner stops at the first element past the limit.
        assert_eq!(depth, limit + 1);
    }
});
