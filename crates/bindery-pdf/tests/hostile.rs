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
                == "the EPUB's OEBPS/c1.xhtml nests its elements more than 256 levels deep: \
                                the file is damaged or made to crash readers",
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
