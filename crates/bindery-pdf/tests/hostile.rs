//! Files built to crash or hang readers: deep outlines and deep markup are
//! refused with a reason, without recursion over their depth. Each check
//! runs on a thread with a 2 MiB stack, the size of the worker's blocking
//! threads, where the recursion these files aimed at used to abort the
//! process.

use bindery_pdf::{fixtures, Doc, DocKind, OpenOptions, PdfError};

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(2 << 20).spawn(f).unwrap().join().unwrap()
}

#[test]
fn an_outline_twenty_thousand_deep_is_refused_and_a_deep_one_within_the_limit_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let deep = dir.join("deep.pdf");
    fixtures::deep_outline_pdf(&deep, 20_000);
    let err = on_small_stack(move || Doc::open(&deep, DocKind::Pdf, OpenOptions::default()).unwrap().outline());
    assert!(matches!(err, Err(PdfError::OutlineTooDeep { limit: 256 })), "{err:?}");
    assert!(err.unwrap_err().to_string().contains("outline (bookmarks) is nested more than 256 levels deep"));

    let fine = dir.join("fine.pdf");
    fixtures::deep_outline_pdf(&fine, 200);
    let outline = on_small_stack(move || Doc::open(&fine, DocKind::Pdf, OpenOptions::default()).unwrap().outline());
    let outline = outline.unwrap();
    assert_eq!(outline.len(), 200);
    assert!(outline.iter().enumerate().all(|(i, e)| e.level == i as u32 && e.title == format!("Level {i}")));
    assert_eq!(outline[199].page, Some(1));
}

#[test]
fn markup_nested_past_the_limit_is_refused_before_mupdf_lays_it_out() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for depth in [1_500, 100_000, 1_000_000] {
        let path = dir.join(format!("deep-{depth}.epub"));
        fixtures::nested_epub(&path, depth);
        let err = on_small_stack(move || Doc::open(&path, DocKind::Epub, OpenOptions::default()).err());
        let err = err.unwrap_or_else(|| panic!("{depth} levels were accepted"));
        assert!(
            err.to_string()
                == "the EPUB's OEBPS/c1.xhtml nests its elements more than 256 levels deep, the most this \
                                instance accepts (max-nesting-depth): the file is damaged or made to crash readers",
            "{depth}: {err}"
        );
    }
    let fine = dir.join("fine.epub");
    fixtures::nested_epub(&fine, 100);
    let text = on_small_stack(move || {
        let doc = Doc::open(&fine, DocKind::Epub, OpenOptions::default()).unwrap();
        (1..=doc.page_count()).flat_map(|n| doc.page_text(n).unwrap().lines).map(|l| l.text).collect::<Vec<_>>()
    });
    assert!(text.iter().any(|t| t == "deep"), "{text:?}");
}

/// MuPDF opens an EPUB whose reading order names a chapter it cannot read
/// and lays out its own "ERROR: cannot find chapter …" in its place; the
/// book would become ready with that as its text. Each such file is refused
/// with what is wrong with it, and the intact book is still read.
#[test]
fn an_epub_whose_chapters_are_missing_escaping_or_encrypted_is_refused_with_the_reason() {
    use fixtures::EpubDamage;
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (EpubDamage::MissingChapter, "the EPUB is damaged: its chapter OEBPS/c2.xhtml is missing from the file"),
        (EpubDamage::EscapingHref, "the EPUB is unsafe: its chapter \"../../c2.xhtml\" points outside the book"),
        (EpubDamage::Drm, "the EPUB is protected by DRM (its chapters are encrypted); upload a copy without DRM"),
    ];
    for (damage, reason) in cases {
        let path = tmp.path().join(format!("{damage:?}.epub"));
        fixtures::damaged_epub(&path, damage);
        let err = Doc::open(&path, DocKind::Epub, OpenOptions::default()).err();
        assert_eq!(err.map(|e| e.to_string()).as_deref(), Some(reason), "{damage:?}");
    }
    let good = tmp.path().join("good.epub");
    fixtures::epub(&good, "Good", &[("One", vec!["Fine.".to_owned()])]);
    let doc = Doc::open(&good, DocKind::Epub, OpenOptions::default()).unwrap();
    let text: String = (1..=doc.page_count()).map(|n| format!("{:?}", doc.page_text(n).unwrap())).collect();
    assert!(text.contains("Fine.") && !text.contains("ERROR"), "{text}");
}

/// Text on a page turned with `/Rotate 90`, and text drawn a quarter turn
/// by its matrix, is read like any other (`pdftotext` finds both).
#[test]
fn rotated_pages_and_rotated_text_yield_their_text() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("rotated.pdf");
    fixtures::rotated_pdf(&path);
    let doc = Doc::open(&path, DocKind::Pdf, OpenOptions::default()).unwrap();
    let text = |n| doc.page_text(n).unwrap().lines.iter().map(|l| l.text.clone()).collect::<Vec<_>>().join("\n");
    assert_eq!(text(1), "The page is turned a quarter");
    assert_eq!(text(2), "These words run up the page");
}

/// A page the page tree declares but does not hold is an error of that page
/// alone: the others read, and the error says the file is damaged (the
/// `extract` stage counts such pages and warns instead of failing the book).
#[test]
fn a_page_missing_from_the_page_tree_fails_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("missing-page.pdf");
    fixtures::missing_page_pdf(&path);
    let doc = Doc::open(&path, DocKind::Pdf, OpenOptions::default()).unwrap();
    assert_eq!(doc.page_count(), 3);
    let text = |n| doc.page_text(n).map(|p| p.lines.iter().map(|l| l.text.clone()).collect::<Vec<_>>().join("\n"));
    assert_eq!(text(1).unwrap(), "The first page reads well enough");
    assert_eq!(text(2).unwrap(), "The second page reads well too");
    let e = text(3).unwrap_err();
    assert!(matches!(e, bindery_pdf::PdfError::Corrupt(_)) && !e.is_out_of_memory(), "{e:?}");
}

/// A compressed content stream that breaks off costs the page the text after
/// the break, and MuPDF says nothing: the check finds it, and passes the
/// same page whole.
#[test]
fn a_content_stream_cut_short_is_found_and_a_whole_one_is_not() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = |path: &std::path::Path| {
        let doc = Doc::open(path, DocKind::Pdf, OpenOptions::default()).unwrap();
        (doc.page_text(1).unwrap().lines.len(), doc.page_content_damaged(1).unwrap(), doc.was_repaired())
    };
    let whole = tmp.path().join("whole.pdf");
    fixtures::damaged_stream_pdf(&whole, false);
    assert_eq!(lines(&whole), (40, false, false));
    let cut = tmp.path().join("cut.pdf");
    fixtures::damaged_stream_pdf(&cut, true);
    let (read, damaged, repaired) = lines(&cut);
    assert!(read < 40, "MuPDF reads up to the break: {read} lines");
    assert!(damaged && !repaired);
}

/// Junk in the middle of an uncompressed content stream fails no filter:
/// MuPDF skips it as unknown operators and says nothing, but counts the
/// errors it read past, and the page carries the count. The lines around
/// the junk still read; the sound page counts none.
#[test]
fn errors_read_past_in_a_pages_content_are_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let garbled = tmp.path().join("garbled.pdf");
    fixtures::garbled_stream_pdf(&garbled);
    let doc = Doc::open(&garbled, DocKind::Pdf, OpenOptions::default()).unwrap();
    let page = doc.page_text(1).unwrap();
    assert!(page.errors > 0, "{page:?}");
    assert!((30..40).contains(&page.lines.len()), "the lines around the junk read: {}", page.lines.len());
    assert!(!doc.page_content_damaged(1).unwrap(), "no Flate stream to find broken");
    let whole = tmp.path().join("whole.pdf");
    fixtures::damaged_stream_pdf(&whole, false);
    let page = Doc::open(&whole, DocKind::Pdf, OpenOptions::default()).unwrap().page_text(1).unwrap();
    assert_eq!((page.errors, page.lines.len()), (0, 40));
}

/// A PDF whose index of objects is wrong reads in full once MuPDF has
/// rebuilt it, and the document knows it was rebuilt.
#[test]
fn a_rebuilt_cross_reference_table_is_known() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("broken-xref.pdf");
    fixtures::broken_xref_pdf(&path);
    let doc = Doc::open(&path, DocKind::Pdf, OpenOptions::default()).unwrap();
    let text = doc.page_text(1).unwrap().lines.iter().map(|l| l.text.clone()).collect::<Vec<_>>().join("\n");
    assert_eq!(text, "Read after a repair");
    assert!(doc.was_repaired());
    assert!(!doc.page_content_damaged(1).unwrap());
}
