//! An image upload as the `ocr` stage decodes it in the worker: its pages
//! counted (a TIFF's chain of directories, at most `max-pages`), then every
//! page decoded to grey under the stage's limits (100 million pixels, the
//! decoder's 512 MiB allocation budget).

#![no_main]

use libfuzzer_sys::fuzz_target;

/// `MAX_IMAGE_PIXELS` of the `ocr` stage (`book/ocr.rs`).
const MAX_IMAGE_PIXELS: u64 = 100_000_000;

fuzz_target!(|data: &[u8]| {
    let max_pages = bindery_pdf::OpenOptions::default().max_pages;
    let Ok(pages) = bindery_media::image_pages(data, max_pages) else { return };
    assert!((1..=max_pages).contains(&pages), "{pages} pages");
    let limits = bindery_media::DecodeLimits { max_pixels: MAX_IMAGE_PIXELS, ..Default::default() };
    for index in 0..pages {
        if let Ok(grey) = bindery_media::decode_grey_page(data, index, &limits) {
            let (width, height) = grey.dimensions();
            assert!(u64::from(width) * u64::from(height) <= MAX_IMAGE_PIXELS);
        }
    }
});
