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
    let chapters: Vec<(&str, String)> = chapters
        .iter()
        .map(|(t, paragraphs)| (*t, paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect()))
        .collect();
    epub_of_bodies(path, title, &chapters);
}

/// An EPUB whose one chapter nests `depth` `<div>` elements around its
/// text: a kilobyte of markup that MuPDF's layout recursion cannot survive.
pub fn nested_epub(path: &Path, depth: usize) {
    let body = format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth));
    epub_of_bodies(path, "Deep", &[("Deep", body)]);
}

/// An EPUB whose one chapter unpacks to about `bytes` bytes of short
/// paragraphs: a small upload that needs many times its size in memory once
/// laid out.
pub fn huge_chapter_epub(path: &Path, bytes: usize) {
    let paragraph = "<p>All work and no play makes a long chapter.</p>";
    epub_of_bodies(path, "Huge", &[("Huge", paragraph.repeat(bytes / paragraph.len()))]);
}

/// The EPUB container around chapters given as (title, body markup).
fn epub_of_bodies(path: &Path, title: &str, chapters: &[(&str, String)]) {
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
    for (i, (t, body)) in chapters.iter().enumerate() {
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

/// A one-page PDF whose outline is a chain of `depth` bookmarks, each the
/// only child of the one before: MuPDF loads outlines by recursion.
pub fn deep_outline_pdf(path: &Path, depth: usize) {
    let mut objects = page_objects("/Outlines 4 0 R", "");
    objects.push(format!("<< /Type /Outlines /First 7 0 R /Last 7 0 R /Count {depth} >>"));
    objects.push(font());
    objects.push(content("BT /F1 12 Tf 20 100 Td (Bookmarks all the way down) Tj ET"));
    for i in 0..depth {
        let num = 7 + i;
        let parent = if i == 0 { 4 } else { num - 1 };
        let child =
            if i + 1 < depth { format!("/First {0} 0 R /Last {0} 0 R /Count 1", num + 1) } else { String::new() };
        objects.push(format!("<< /Title (Level {i}) /Parent {parent} 0 R {child} /Dest [3 0 R /Fit] >>"));
    }
    std::fs::write(path, pdf_file(&objects)).expect("write pdf");
}

/// A 2-kilobyte PDF whose page draws a form XObject that draws the next
/// one ten times, ten levels deep: ten billion tiny rectangles, which keeps
/// any reader busy for hours.
pub fn xobject_bomb_pdf(path: &Path) {
    const LEVELS: usize = 10;
    let mut objects = page_objects("", "/XObject << /X 7 0 R >>");
    objects.push("<< /Type /Outlines /Count 0 >>".into());
    objects.push(font());
    objects.push(content("/X Do"));
    for level in 0..LEVELS {
        let num = 7 + level;
        let (resources, body) = if level + 1 < LEVELS {
            (format!("<< /XObject << /X {} 0 R >> >>", num + 1), "q /X Do Q\n".repeat(10))
        } else {
            ("<< >>".to_owned(), "0 0 1 1 re f\n".to_owned())
        };
        objects.push(format!(
            "<< /Type /XObject /Subtype /Form /BBox [0 0 200 200] /Resources {resources} /Length {} >>\nstream\n{body}\nendstream",
            body.len() + 1
        ));
    }
    std::fs::write(path, pdf_file(&objects)).expect("write pdf");
}

/// Objects 1 to 3 of the hand-written PDFs: the catalog (with
/// `catalog_extra`), the page tree, and one page using font 5, content
/// stream 6 and `resources_extra`. Object 4 is each fixture's outline root,
/// 5 and 6 its font and content, and 7 onwards its own.
fn page_objects(catalog_extra: &str, resources_extra: &str) -> Vec<String> {
    vec![
        format!("<< /Type /Catalog /Pages 2 0 R {catalog_extra} >>"),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 6 0 R \
             /Resources << /Font << /F1 5 0 R >> {resources_extra} >> >>"
        ),
    ]
}

fn font() -> String {
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into()
}

fn content(ops: &str) -> String {
    format!("<< /Length {} >>\nstream\n{ops}\nendstream", ops.len() + 1)
}

/// Numbers `objects` from 1 and writes them with a correct cross-reference
/// table, so MuPDF reads the file as written instead of repairing it.
fn pdf_file(objects: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
    );
    out
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
    png_claiming(100_000, 100_000)
}

/// A 100-byte grey PNG whose header claims `width` × `height` pixels, with
/// almost no pixel data: a decoder allocates the whole image before it finds
/// the data missing.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
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

/// A one-page PDF whose text reads fine but whose page draws an image that
/// declares `side` × `side` grey pixels in a stream of a few bytes, with a
/// soft mask of the same size carrying `/Matte`. MuPDF cannot decode such
/// an image at a reduced resolution, so rendering the page at any size
/// allocates `side²` bytes for the image and again for its mask.
pub fn huge_image_pdf(path: &Path, side: u32) {
    let mut objects = page_objects("/Outlines 4 0 R", "/XObject << /Im 7 0 R >>");
    objects.push("<< /Type /Outlines /Count 0 >>".into());
    objects.push(font());
    objects.push(content("BT /F1 12 Tf 20 150 Td (This page reads fine) Tj ET q 160 0 0 100 20 20 cm /Im Do Q"));
    let image = |extra: &str| {
        format!(
            "<< /Type /XObject /Subtype /Image /Width {side} /Height {side} /ColorSpace /DeviceGray \
             /BitsPerComponent 8 {extra} /Length 4 >>\nstream\n\x7f\x7f\x7f\x7f\nendstream"
        )
    };
    objects.push(image("/SMask 8 0 R"));
    objects.push(image("/Matte [0]"));
    std::fs::write(path, pdf_file(&objects)).expect("write pdf");
}

/// A two-page PDF with text on both pages, the second a strip `height`
/// points tall and 20 wide (a receipt, a scroll): its thumbnails would be
/// far taller than any image format or pixel limit allows.
pub fn tall_page_pdf(path: &Path, height: u32) {
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>".into(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 400] /Contents 6 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .into(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 20 {height}] /Contents 7 0 R \
             /Resources << /Font << /F1 5 0 R >> >> >>"
        ),
    ];
    objects.push(font());
    objects.push(content("BT /F1 12 Tf 20 300 Td (The first page is an ordinary page) Tj ET"));
    objects.push(content("BT /F1 4 Tf 1 100 Td (A strip) Tj ET"));
    std::fs::write(path, pdf_file(&objects)).expect("write pdf");
}

/// How [`damaged_epub`] breaks a book.
#[derive(Clone, Copy, Debug)]
pub enum EpubDamage {
    /// The second chapter listed in the reading order is not in the file.
    MissingChapter,
    /// The second chapter's href climbs out of the book (`../../c2.xhtml`).
    EscapingHref,
    /// Both chapters are listed as encrypted in `META-INF/encryption.xml`
    /// with AES, as DRM writes them.
    Drm,
}

/// A two-chapter EPUB broken as `damage` says. MuPDF opens each of these
/// and lays out "ERROR: cannot find chapter …" in place of the chapters it
/// cannot read.
pub fn damaged_epub(path: &Path, damage: EpubDamage) {
    let chapters =
        [("One", vec!["The first chapter reads well.".to_owned()]), ("Two", vec!["So does the second.".to_owned()])];
    let good = path.with_extension("good.epub");
    epub(&good, "Damaged", &chapters);
    let mut source = zip::ZipArchive::new(std::fs::File::open(&good).expect("open")).expect("zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..source.len() {
        let mut entry = source.by_index(i).expect("entry");
        let name = entry.name().to_owned();
        let mut body = String::new();
        std::io::Read::read_to_string(&mut entry, &mut body).expect("read");
        match (damage, name.as_str()) {
            (EpubDamage::MissingChapter, "OEBPS/c2.xhtml") => continue,
            (EpubDamage::EscapingHref, "OEBPS/content.opf") => {
                body = body.replace(r#"href="c2.xhtml""#, r#"href="../../c2.xhtml""#)
            }
            _ => {}
        }
        zip.start_file(name, stored).expect("entry");
        zip.write_all(body.as_bytes()).expect("write");
    }
    if let EpubDamage::Drm = damage {
        let data: String = (1..=2)
            .map(|i| {
                format!(
                    r#"<enc:EncryptedData><enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/><enc:CipherData><enc:CipherReference URI="OEBPS/c{i}.xhtml"/></enc:CipherData></enc:EncryptedData>"#
                )
            })
            .collect();
        zip.start_file("META-INF/encryption.xml", stored).expect("entry");
        let xml = format!(
            r#"<?xml version="1.0"?><encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#">{data}</encryption>"#
        );
        zip.write_all(xml.as_bytes()).expect("write");
    }
    zip.finish().expect("finish");
    std::fs::remove_file(good).expect("remove");
}

/// A two-page PDF: the first page is turned with `/Rotate 90`, the second
/// draws its line of text turned a quarter with its text matrix, as scans
/// of landscape tables and spine labels do. `pdftotext` finds both lines.
pub fn rotated_pdf(path: &Path) {
    let page = |rotate: &str, contents: u32| {
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 400] {rotate} /Contents {contents} 0 R \
             /Resources << /Font << /F1 5 0 R >> >> >>"
        )
    };
    let objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>".into(),
        page("/Rotate 90", 6),
        page("", 7),
        font(),
        content("BT /F1 12 Tf 20 300 Td (The page is turned a quarter) Tj ET"),
        content("BT /F1 12 Tf 0 1 -1 0 150 40 Tm (These words run up the page) Tj ET"),
    ];
    std::fs::write(path, pdf_file(&objects)).expect("write pdf");
}

/// A PDF whose page tree declares three pages but holds two, as a file cut
/// short or badly merged leaves it: the first two pages read, the third
/// cannot be found.
pub fn missing_page_pdf(path: &Path) {
    let page = |contents: u32| {
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 400] /Contents {contents} 0 R \
             /Resources << /Font << /F1 5 0 R >> >> >>"
        )
    };
    let objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 3 >>".into(),
        page(6),
        page(7),
        font(),
        content("BT /F1 12 Tf 20 300 Td (The first page reads well enough) Tj ET"),
        content("BT /F1 12 Tf 20 300 Td (The second page reads well too) Tj ET"),
    ];
    std::fs::write(path, pdf_file(&objects)).expect("write pdf");
}

/// The forty numbered lines of the damaged-stream fixtures, as content
/// stream operators.
fn forty_lines() -> String {
    (0..40).map(|i| format!("BT /F1 9 Tf 20 {} Td (Line {} of the page) Tj ET\n", 390 - i * 9, i + 1)).collect()
}

/// A one-page PDF of forty numbered lines whose compressed content stream
/// breaks off halfway through, as a damaged download or disk leaves it:
/// MuPDF reads the lines before the break and quietly drops the rest. With
/// `damaged` false, the same page whole.
pub fn damaged_stream_pdf(path: &Path, damaged: bool) {
    use std::io::Write;
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(forty_lines().as_bytes()).expect("compress");
    let mut data = zlib.finish().expect("compress");
    if damaged {
        data.truncate(data.len() / 2);
    }
    std::fs::write(path, one_stream_pdf(&data, "/Filter /FlateDecode")).expect("write pdf");
}

/// The forty lines in an uncompressed content stream whose middle a bad
/// disk sector has overwritten with junk bytes: no filter fails, so only
/// MuPDF's interpreter meets the damage, as unknown operators it skips.
pub fn garbled_stream_pdf(path: &Path) {
    let mut data = forty_lines().into_bytes();
    let middle = data.len() / 2;
    // Bytes a PDF lexer reads as one long unknown word: no delimiters, no whitespace.
    for (i, byte) in data[middle..middle + 96].iter_mut().enumerate() {
        *byte = [0xe2, 0x80, 0x1f, b'q', b'z', 0x7f, b'K', 0xb7][i % 8];
    }
    std::fs::write(path, one_stream_pdf(&data, "")).expect("write pdf");
}

/// A one-page PDF whose page draws the stream `data` (binary, so the file is
/// assembled as bytes around it) with the stream dictionary's `filter`
/// entries, in the fixtures' font.
fn one_stream_pdf(data: &[u8], filter: &str) -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".into(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 400] /Contents 5 0 R /Resources << /Font << /F1 4 0 R >> >> >>"
            .into(),
        font(),
    ];
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    offsets.push(out.len());
    out.extend_from_slice(format!("5 0 obj\n<< /Length {} {filter} >>\nstream\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes());
    for offset in offsets.iter() {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", offsets.len() + 1).as_bytes(),
    );
    out
}

/// A one-page PDF whose cross-reference table points to the wrong places,
/// as a file edited by hand or mangled by a text-mode transfer has it: MuPDF
/// reads it only by rebuilding the table from the objects themselves.
pub fn broken_xref_pdf(path: &Path) {
    let mut objects = page_objects("", "");
    objects.push("<< >>".into());
    objects.push(font());
    objects.push(content("BT /F1 12 Tf 20 150 Td (Read after a repair) Tj ET"));
    let file = String::from_utf8(pdf_file(&objects)).expect("ascii");
    // Every offset in the table moved by seven bytes.
    let (head, table) = file.split_at(file.find("xref\n").expect("xref"));
    let table: String = table
        .lines()
        .map(|line| match line.strip_suffix(" 00000 n ") {
            Some(offset) => format!("{:010} 00000 n \n", offset.parse::<u64>().expect("offset") + 7),
            None => format!("{line}\n"),
        })
        .collect();
    std::fs::write(path, format!("{head}{table}")).expect("write pdf");
}
