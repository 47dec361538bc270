//! Checks that recognition does not start OpenMP worker threads, i.e. that one engine uses one core, even though the
//! process was started without `OMP_THREAD_LIMIT`. Alone in its test binary so no other test's threads are counted.

use bindery_ocr::{Engine, GreyImage, OcrOptions};

/// The corpus's smallest English page, decoded to grey; `None` (and the test skips) when the corpus is absent.
fn corpus_page() -> Option<GreyImage> {
    let path = bindery_testkit::corpus("ocr/en/phototest.tif")?;
    let grey = image::open(&path).expect("phototest decodes").to_luma8();
    Some(GreyImage { width: grey.width(), height: grey.height(), pixels: grey.into_raw() })
}

fn threads_in_process() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0)
}

#[test]
fn recognition_stays_on_the_calling_thread() {
    if std::env::var_os("OMP_THREAD_LIMIT").is_some() {
        eprintln!("skipping: OMP_THREAD_LIMIT is set in the environment, so it cannot show the engine's own limit");
        return;
    }
    let Some(page) = corpus_page() else { return };
    let mut engine = Engine::new(&OcrOptions { languages: "eng".into(), dpi: 300, datapath: None }).expect("eng model");
    let before = threads_in_process();
    let result = engine.recognize(&page.pixels, page.width, page.height).expect("page recognises");
    let after = threads_in_process();
    // The page must really have gone through the recogniser (its LSTM is where OpenMP regions are), or the thread
    // count proves nothing.
    assert!(result.text.contains("quick brown"), "unexpected text: {}", result.text);
    assert!(before > 0, "cannot read /proc/self/task");
    assert_eq!(after, before, "recognition started {} OpenMP threads", after.saturating_sub(before));
}
