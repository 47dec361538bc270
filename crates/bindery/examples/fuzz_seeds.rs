//! Writes the seed corpus of the fuzz targets in `fuzz/` (one folder per
//! target under the folder given as the only argument): small valid inputs
//! of every format, and hostile ones that production refuses quickly, made
//! by the same generators as the tests (`bindery_pdf::fixtures`), so that no
//! binary file is committed. `scripts/fuzz.sh` runs it before fuzzing.
//!
//! Inputs that production stops only by a deadline (the XObject bomb) or by
//! the memory limit are left out: libFuzzer gives up on a seed that times
//! out or runs out of memory, which would end the run before it starts.

use bindery_media::image::codecs::{jpeg::JpegEncoder, png::PngEncoder, webp::WebPEncoder};
use bindery_media::image::{ExtendedColorType, ImageEncoder};
use bindery_pdf::fixtures::{self, EpubDamage};
use std::path::{Path, PathBuf};

/// Separates the container, the package document and the encryption list
/// in an input of the `epub_package` target.
const SEPARATOR: &str = "\n--8<--\n";

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: fuzz_seeds FOLDER"));
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let made = |name: &str, write: &dyn Fn(&Path)| {
        let path = scratch.path().join(name);
        write(&path);
        std::fs::read(&path).expect("reading a generated file")
    };
    let chapters = [
        ("The Harbour", vec!["The boats came in at dusk.".to_owned(), "Nobody spoke of the storm.".to_owned()]),
        ("The Road", vec!["A long road led home, past the mill and the church.".to_owned()]),
    ];

    let pdfs = [
        made("outline.pdf", &|p| fixtures::deep_outline_pdf(p, 3)),
        made("deep-outline.pdf", &|p| fixtures::deep_outline_pdf(p, 300)),
        made("blank.pdf", &|p| fixtures::blank_pdf(p, 2)),
        made("rotated.pdf", &|p| fixtures::rotated_pdf(p)),
        made("encrypted.pdf", &|p| fixtures::encrypted_pdf(p)),
        made("tall.pdf", &|p| fixtures::tall_page_pdf(p, 2_000)),
        made("image.pdf", &|p| fixtures::huge_image_pdf(p, 64)),
        lines_pdf("[0 0 612 792]"),
        // Once made the worker's layout ask for 5 EiB (docs/security.md, "Fuzzing").
        lines_pdf("[0 0 1000000000000000000000000000000 792]"),
    ];
    let epubs = [
        made("book.epub", &|p| fixtures::epub(p, "Seeds", &chapters)),
        made("nested.epub", &|p| fixtures::nested_epub(p, 300)),
        made("missing.epub", &|p| fixtures::damaged_epub(p, EpubDamage::MissingChapter)),
        made("escaping.epub", &|p| fixtures::damaged_epub(p, EpubDamage::EscapingHref)),
        made("drm.epub", &|p| fixtures::damaged_epub(p, EpubDamage::Drm)),
        made("slip.epub", &|p| fixtures::zip_slip_epub(p)),
    ];
    write(&out, "pdf", &pdfs);
    write(&out, "epub", &epubs);

    let markup: Vec<Vec<u8>> = [
        r#"<?xml version="1.0"?><!DOCTYPE html [ <!ENTITY x "y"> ]><html><head><meta charset="utf-8"><link rel="a" href="b"/></head><body><!-- <div> --><![CDATA[<div>]]><div class="a>b"><p>one<p>two<br><ul><li>a<li>b</ul></div></body></html>"#.to_owned(),
        format!("<html><body>{}</body></html>", "<div>".repeat(300)),
        format!("<body>{}{}</body>", "<section>".repeat(200), "</section>".repeat(200)),
    ]
    .map(String::into_bytes)
    .into();
    write(&out, "epub_markup", &markup);

    let container = r#"<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"#;
    let package = |hrefs: &[&str]| {
        let items: String = hrefs
            .iter()
            .enumerate()
            .map(|(i, h)| format!(r#"<item id="c{i}" href="{h}" media-type="application/xhtml+xml"/>"#))
            .collect();
        let spine: String = (0..hrefs.len()).map(|i| format!(r#"<itemref idref="c{i}"/>"#)).collect();
        format!(
            r#"<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"><manifest>{items}</manifest><spine>{spine}</spine></package>"#
        )
    };
    let encryption = r#"<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/><enc:CipherData><enc:CipherReference URI="OEBPS/c1.xhtml"/></enc:CipherData></enc:EncryptedData></encryption>"#;
    let packages: Vec<Vec<u8>> = [
        [container, package(&["c1.xhtml", "text/c2.xhtml#part", "../c%203.xhtml"]).as_str(), ""].join(SEPARATOR),
        [container, package(&["c1.xhtml", "missing.xhtml"]).as_str(), ""].join(SEPARATOR),
        [container, package(&["../../c1.xhtml"]).as_str(), ""].join(SEPARATOR),
        [container, package(&["c1.xhtml"]).as_str(), encryption].join(SEPARATOR),
    ]
    .map(String::into_bytes)
    .into();
    write(&out, "epub_package", &packages);

    let images = images();
    write(&out, "image", &images);

    let text =
        "The Harbour\n\nThe boats came in at dusk, and nobody spoke of the storm.\r\n\r\nCHAPTER I\n\nA long road.\n";
    let utf16le: Vec<u8> = [0xFEFF].into_iter().chain(text.encode_utf16()).flat_map(u16::to_le_bytes).collect();
    let utf16be: Vec<u8> = [0xFEFF].into_iter().chain(text.encode_utf16()).flat_map(u16::to_be_bytes).collect();
    let utf32: Vec<u8> =
        std::iter::once(0xFEFF).chain(text.chars().map(u32::from)).flat_map(u32::to_le_bytes).collect();
    let texts: Vec<Vec<u8>> = vec![
        text.as_bytes().to_vec(),
        b"\xEF\xBB\xBF# One\n\nA paragraph about the sea.\n\n## Two\n\nAnother *one*.\n".to_vec(),
        b"The Project Gutenberg eBook of Seeds\n\nTitle: Seeds\nAuthor: A. Writer\n\n*** START OF THE PROJECT GUTENBERG EBOOK SEEDS ***\n\nCHAPTER I\n\nText.\n\n*** END OF THE PROJECT GUTENBERG EBOOK SEEDS ***\nLicence.\n".to_vec(),
        utf16le,
        utf16be,
        utf32,
    ];
    write(&out, "text", &texts);

    // The sniffer sees the first bytes of every kind of upload, and texts that only look binary.
    let mut heads: Vec<Vec<u8>> = pdfs.iter().chain(&epubs).chain(&images).chain(&texts).cloned().collect();
    heads.extend([
        b"%PDF-1.7 is the header a PDF file starts with.\n".to_vec(),
        b"ID3\x04\x00\x00\x00\x00\x10\x7f rest".to_vec(),
        b"ID3 tags name the artist of a song.\n".to_vec(),
        b"PK\x03\x04 is how a ZIP archive starts.\n".to_vec(),
        b"<!DOCTYPE html><html><body>not a PDF</body></html>".to_vec(),
    ]);
    write(&out, "sniff", &heads);
}

/// A one-page PDF with twelve lines of text (enough for the layout to look
/// for two columns) on a page of `media_box`, with a correct
/// cross-reference table.
fn lines_pdf(media_box: &str) -> Vec<u8> {
    let text: String =
        (0..12).map(|i| format!("BT /F1 10 Tf 50 {} Td (Line {i} of the page) Tj ET\n", 700 - i * 14)).collect();
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        format!("<< /Type /Page /Parent 2 0 R /MediaBox {media_box} /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"),
        format!("<< /Length {} >>\nstream\n{text}endstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{object}\nendobj\n", i + 1));
    }
    let xref = out.len();
    out.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    offsets.iter().for_each(|o| out.push_str(&format!("{o:010} 00000 n \n")));
    out.push_str(&format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1));
    out.into_bytes()
}

/// A small page in each format the `ocr` stage decodes, a PNG with
/// transparency, and the 100-byte PNG that claims 10 billion pixels.
fn images() -> Vec<Vec<u8>> {
    let (w, h) = (24u32, 16u32);
    let grey: Vec<u8> = (0..w * h).map(|i| (i * 7 % 251) as u8).collect();
    let grey_alpha: Vec<u8> = grey.iter().flat_map(|&g| [g, 255 - g]).collect();
    let mut png = Vec::new();
    PngEncoder::new(&mut png).write_image(&grey, w, h, ExtendedColorType::L8).expect("png");
    let mut png_alpha = Vec::new();
    PngEncoder::new(&mut png_alpha).write_image(&grey_alpha, w, h, ExtendedColorType::La8).expect("png");
    let mut jpeg = Vec::new();
    JpegEncoder::new(&mut jpeg).write_image(&grey, w, h, ExtendedColorType::L8).expect("jpeg");
    let mut webp = Vec::new();
    WebPEncoder::new_lossless(&mut webp).write_image(&grey, w, h, ExtendedColorType::L8).expect("webp");
    vec![png, png_alpha, jpeg, webp, tiff(&grey, w, h, false), tiff(&grey, w, h, true), fixtures::png_bomb()]
}

/// A three-page TIFF, classic or BigTIFF, as a scanner of several pages writes it.
fn tiff(grey: &[u8], width: u32, height: u32, big: bool) -> Vec<u8> {
    use tiff::encoder::{colortype::Gray8, TiffEncoder};
    let mut out = std::io::Cursor::new(Vec::new());
    if big {
        let mut e = TiffEncoder::new_big(&mut out).expect("bigtiff");
        (0..3).for_each(|_| e.write_image::<Gray8>(width, height, grey).expect("page"));
    } else {
        let mut e = TiffEncoder::new(&mut out).expect("tiff");
        (0..3).for_each(|_| e.write_image::<Gray8>(width, height, grey).expect("page"));
    }
    out.into_inner()
}

/// Writes `inputs` as `out/target/seed-N`.
fn write(out: &Path, target: &str, inputs: &[Vec<u8>]) {
    let dir = out.join(target);
    std::fs::create_dir_all(&dir).expect("creating the seed folder");
    for (i, input) in inputs.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{i}")), input).expect("writing a seed");
    }
}
