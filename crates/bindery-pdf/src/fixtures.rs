//! Hostile and unusual inputs, generated on the fly for tests across the
//! workspace (bad-input tests must not depend on committed binary files).

use mupdf::pdf::{PdfDocument, PdfWriteOptions};
use mupdf::Size;
use std::io::Write;
use std::path::Path;

/// A PDF of `pages` blank A4 pages.
pub fn blank_pdf(path: &Path, pages: u32) {
    let mut doc = PdfDocument::new();
    for _ in 0..pages {
        doc.new_page(Size::A4).expect("new page");
    }
    doc.save(path.to_str().expect("utf-8 path")).expect("save pdf");
}

/// A one-page PDF encrypted with AES-256 and a user password.
pub fn encrypted_pdf(path: &Path) {
    let mut doc = PdfDocument::new();
    doc.new_page(Size::A4).expect("new page");
    let mut opts = PdfWriteOptions::default();
    opts.set_encryption(mupdf::pdf::Encryption::Aes256).set_user_password("secret").set_owner_password("owner");
    doc.save_with_options(path.to_str().expect("utf-8 path"), opts).expect("save pdf");
}

/// A scanned PDF: each image becomes one page with no text layer, as a
/// scanner writes it.
pub fn scanned_pdf(images: &[&Path], dest: &Path) {
    let mut out = PdfDocument::new();
    for image in images {
        let doc = mupdf::Document::open(image.to_str().expect("utf-8 path")).expect("open image");
        let page = doc.convert_to_pdf(0, -1, 0).expect("image to pdf");
        out.insert_pdf(&page, Default::default()).expect("insert page");
    }
    out.save(dest.to_str().expect("utf-8 path")).expect("save pdf");
}

/// A minimal valid EPUB 3 with a navigation document listing `chapters`
/// (title, paragraphs) in order.
pub fn epub(path: &Path, title: &str, chapters: &[(&str, Vec<String>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated = zip::write::SimpleFileOptions::default();
    let mut put = |name: &str, body: &str, opts| {
        zip.start_file(name, opts).expect("entry");
        zip.write_all(body.as_bytes()).expect("write");
    };
    put("mimetype", "application/epub+zip", stored);
    put(
        "META-INF/container.xml",
        r#"<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#,
        deflated,
    );
    let items: String = (1..=chapters.len())
        .map(|i| format!(r#"<item id="c{i}" href="c{i}.xhtml" media-type="application/xhtml+xml"/>"#))
        .collect();
    let spine: String = (1..=chapters.len()).map(|i| format!(r#"<itemref idref="c{i}"/>"#)).collect();
    put(
        "OEBPS/content.opf",
        &format!(
            r#"<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">bindery-test</dc:identifier><dc:title>{title}</dc:title><dc:creator>Test Author</dc:creator><dc:language>en</dc:language></metadata><manifest><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>{items}</manifest><spine>{spine}</spine></package>"#
        ),
        deflated,
    );
    let links: String = chapters
        .iter()
        .enumerate()
        .map(|(i, (t, _))| format!(r#"<li><a href="c{}.xhtml">{t}</a></li>"#, i + 1))
        .collect();
    put(
        "OEBPS/nav.xhtml",
        &format!(
            r#"<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><body><nav epub:type="toc"><ol>{links}</ol></nav></body></html>"#
        ),
        deflated,
    );
    for (i, (t, paragraphs)) in chapters.iter().enumerate() {
        let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
        put(
            &format!("OEBPS/c{}.xhtml", i + 1),
            &format!(
                r#"<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body><h1>{t}</h1>{body}</body></html>"#
            ),
            deflated,
        );
    }
    zip.finish().expect("finish");
}

/// An EPUB-shaped ZIP with an entry that climbs out of the book (`../`).
pub fn zip_slip_epub(path: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).expect("entry");
    zip.write_all(b"application/epub+zip").expect("write");
    zip.start_file("../../evil.xhtml", stored).expect("entry");
    zip.write_all(b"<html><body>gotcha</body></html>").expect("write");
    zip.finish().expect("finish");
}

/// A 100-byte PNG whose header claims 100,000 × 100,000 pixels: decoding it
/// would need 10 GB.
pub fn png_bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The first `keep` bytes of `source`, as a broken transfer leaves them.
pub fn truncated(source: &Path, dest: &Path, keep: f64) {
    let bytes = std::fs::read(source).expect("read");
    std::fs::write(dest, &bytes[..(bytes.len() as f64 * keep) as usize]).expect("write");
}
