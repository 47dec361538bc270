//! A text or Markdown upload: decoded (UTF-8, or UTF-16 and UTF-32 by their
//! byte-order mark), cleaned of a Project Gutenberg header and licence, its
//! language detected, then split into chapters and paragraphs as the
//! `structure` stage does, both as plain text and as Markdown.

#![no_main]

use bindery_stages::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The `extract` stage reads at most this much of a text upload.
    if data.len() as u64 > text::DEFAULT_MAX_TEXT_BYTES {
        return;
    }
    let Ok(cleaned) = text::clean(data) else { return };
    assert!(!cleaned.body.contains('\r'), "line ends are normalised");
    for markdown in [false, true] {
        let _ = text::book_from_text(&cleaned, markdown);
    }
});
