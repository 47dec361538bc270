//! The real corpus PDFs: page count, outline, text quality per page.

use bindery_pdf::layout::{paragraphs, reading_order, Furniture};
use bindery_pdf::{Doc, DocKind, OcrNeed, OpenOptions};
use bindery_testkit::corpus;

#[test]
fn alice_has_pages_text_and_an_outline_or_headings() {
    let Some(path) = corpus("pdfs/en-alice-in-wonderland.pdf") else { return };
    let doc = Doc::open(&path, DocKind::Pdf, OpenOptions::default()).unwrap();
    assert_eq!(doc.page_count(), 92);
    let pages: Vec<_> = (1..=doc.page_count()).map(|n| doc.page_text(n).unwrap()).collect();
    assert!(pages.iter().all(|p| p.ocr_need() == OcrNeed::No), "a born-digital PDF needs no OCR");
    let mut furniture = Furniture::default();
    pages.iter().for_each(|p| furniture.learn(p));
    let mut text = String::new();
    for p in &pages {
        let lines: Vec<_> = reading_order(p).into_iter().filter(|l| !furniture.is_furniture(p, l)).collect();
        for para in paragraphs(&lines, false) {
            text.push_str(&para.text);
            text.push_str("\n\n");
        }
    }
    assert!(text.contains("Down the Rabbit-Hole"), "chapter 1 title is extracted");
    assert!(text.contains("curiouser"), "body text is extracted");
    let outline = doc.outline().unwrap();
    eprintln!("outline: {} entries; first: {:?}", outline.len(), outline.first());
}

#[test]
fn renders_a_page_in_grey_and_rgb() {
    let Some(path) = corpus("pdfs/en-alice-in-wonderland.pdf") else { return };
    let doc = Doc::open(&path, DocKind::Pdf, OpenOptions::default()).unwrap();
    let grey = doc.render_grey(1, 72).unwrap();
    assert_eq!(grey.channels, 1);
    assert_eq!(grey.pixels.len(), (grey.width * grey.height) as usize);
    let rgb = doc.render_rgb(1, 300).unwrap();
    assert_eq!((rgb.width, rgb.channels), (300, 3));
    assert_eq!(rgb.pixels.len(), (rgb.width * rgb.height * 3) as usize);
    let small = OpenOptions { max_render_pixels: 1000, ..OpenOptions::default() };
    let doc = Doc::open(&path, DocKind::Pdf, small).unwrap();
    assert!(doc.render_grey(1, 300).unwrap_err().to_string().contains("a page may have (max-page-megapixels)"));
}

/// The damage checks never fire on intact files: every corpus PDF reads
/// without a rebuilt index, without a damaged content stream and without an
/// error read past in any page's content.
#[test]
fn intact_pdfs_are_not_reported_damaged() {
    for name in ["pdfs/en-alice-in-wonderland.pdf", "pdfs/fr-developers-reference.pdf"] {
        let Some(path) = corpus(name) else { return };
        let doc = Doc::open(&path, DocKind::Pdf, OpenOptions::default()).unwrap();
        let damaged: Vec<u32> = (1..=doc.page_count()).filter(|&n| doc.page_content_damaged(n).unwrap()).collect();
        assert!(damaged.is_empty(), "{name}: intact pages reported damaged: {damaged:?}");
        let errors: Vec<u32> = (1..=doc.page_count()).filter(|&n| doc.page_text(n).unwrap().errors > 0).collect();
        assert!(errors.is_empty(), "{name}: errors counted on intact pages {errors:?}");
        assert!(!doc.was_repaired(), "{name}: an intact file reported rebuilt");
    }
}
