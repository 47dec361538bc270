//! The reading-order check of an EPUB (`epub.rs` in `bindery-pdf`): the
//! container, the package document and `META-INF/encryption.xml` are read
//! with quick-xml, hrefs are decoded and resolved against the package's
//! folder. The input is split into those three documents and put in a
//! well-formed archive beside a few chapters, so that the fuzzer's changes
//! reach the XML instead of breaking the ZIP's checksums.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;

/// Separates the three documents in an input.
const SEPARATOR: &[u8] = b"\n--8<--\n";

fuzz_target!(|data: &[u8]| {
    let mut parts = split(data).into_iter();
    let (container, package, encryption) =
        (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut put = |name: &str, body: &[u8]| {
        zip.start_file(name, stored).expect("an entry");
        zip.write_all(body).expect("writing to memory");
    };
    put("mimetype", b"application/epub+zip");
    put("META-INF/container.xml", container);
    put("OEBPS/content.opf", package);
    if !encryption.is_empty() {
        put("META-INF/encryption.xml", encryption);
    }
    for chapter in ["OEBPS/c1.xhtml", "OEBPS/text/c2.xhtml", "c 3.xhtml"] {
        put(chapter, b"<html><body><p>text</p></body></html>");
    }
    let archive = zip.finish().expect("finishing in memory").into_inner();
    let _ = bindery_pdf::fuzzing::check_spine(&archive);
});

fn split(data: &[u8]) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
        parts.push(&rest[..at]);
        rest = &rest[at + SEPARATOR.len()..];
    }
    parts.push(rest);
    parts
}
