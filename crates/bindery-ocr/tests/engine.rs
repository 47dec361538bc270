//! Engine and pool behaviour that needs Tesseract and its English model but no corpus: validation, errors, page order
//! and the bound on pages in flight.

use std::sync::atomic::{AtomicUsize, Ordering};

use bindery_ocr::{recognize_pages, Engine, GreyImage, OcrError, OcrOptions};

fn eng() -> OcrOptions {
    OcrOptions { languages: "eng".into(), dpi: 300, datapath: None }
}

fn white(width: u32, height: u32) -> GreyImage {
    GreyImage { width, height, pixels: vec![255; (width * height) as usize] }
}

#[test]
fn unknown_language_fails_to_initialise() {
    let err = Engine::new(&OcrOptions { languages: "zzz".into(), ..eng() }).unwrap_err();
    assert!(matches!(&err, OcrError::Init { languages, .. } if languages == "zzz"), "{err}");
    let err = Engine::new(&OcrOptions { dpi: 0, ..eng() }).unwrap_err();
    assert!(matches!(err, OcrError::Init { .. }), "{err}");
}

#[test]
fn malformed_images_are_rejected_before_tesseract() {
    let mut engine = Engine::new(&eng()).expect("eng model installed");
    assert!(matches!(engine.recognize(&[255; 10], 4, 4), Err(OcrError::BadImage(_))));
    assert!(matches!(engine.recognize(&[], 0, 4), Err(OcrError::BadImage(_))));
    // The engine stays usable after a rejected page.
    let page = engine.recognize(&white(200, 100).pixels, 200, 100).expect("blank page recognises");
    assert_eq!(page.text.trim(), "");
    assert_eq!((page.width, page.height), (200, 100));
}

#[test]
fn pages_come_back_in_order_with_bounded_memory() {
    const THREADS: usize = 2;
    let pulled = AtomicUsize::new(0);
    let delivered = AtomicUsize::new(0);
    let max_in_flight = AtomicUsize::new(0);
    // Page sizes vary so that pages finish out of order; page 3 is a source failure that must keep its place.
    let sizes: Vec<u32> = (0..12).map(|i| 120 + (i * 37 % 5) * 300).collect();
    let pages = sizes.iter().enumerate().map(|(i, &side)| {
        let in_flight = pulled.fetch_add(1, Ordering::SeqCst) + 1 - delivered.load(Ordering::SeqCst);
        max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
        if i == 3 {
            Err(OcrError::Source("page 3 is unreadable".into()))
        } else {
            Ok(white(side, side / 2))
        }
    });
    let mut seen = Vec::new();
    recognize_pages(&eng(), THREADS, pages, |index, result| {
        delivered.fetch_add(1, Ordering::SeqCst);
        let size = result.as_ref().map(|p| (p.width, p.height)).map_err(|e| e.to_string());
        seen.push((index, size));
    })
    .expect("run succeeds");

    let expected: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            (i, if i == 3 { Err("page source failed: page 3 is unreadable".to_string()) } else { Ok((s, s / 2)) })
        })
        .collect();
    assert_eq!(seen, expected);
    let max = max_in_flight.load(Ordering::SeqCst);
    assert!(max <= THREADS * 2, "{max} pages were in flight, bound is {}", THREADS * 2);
}

#[test]
fn pool_reports_init_failure_without_pulling_pages() {
    let pulled = AtomicUsize::new(0);
    let pages = std::iter::from_fn(|| {
        pulled.fetch_add(1, Ordering::SeqCst);
        Some(Ok(white(10, 10)))
    });
    let bad = OcrOptions { languages: "zzz".into(), ..eng() };
    let err = recognize_pages(&bad, 2, pages, |_, _| panic!("no page may be delivered")).unwrap_err();
    assert!(matches!(err, OcrError::Init { .. }), "{err}");
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
}

#[test]
fn a_panicking_callback_stops_the_run_instead_of_hanging() {
    let pulled = AtomicUsize::new(0);
    let pages = std::iter::from_fn(|| {
        pulled.fetch_add(1, Ordering::SeqCst);
        Some(Ok(white(64, 64)))
    });
    // An endless page source: the run can only end because the panic closes the pipeline.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        recognize_pages(&eng(), 2, pages, |index, _| {
            if index == 2 {
                panic!("caller gave up");
            }
        })
    }));
    assert!(outcome.is_err(), "the callback's panic must reach the caller");
    // Pages 0..=2 were delivered, at most a window (4) more pulled before the feeder noticed.
    let pulled = pulled.load(Ordering::SeqCst);
    assert!((3..=3 + 4).contains(&pulled), "{pulled} pages pulled");
}
