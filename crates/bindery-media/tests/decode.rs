//! Decoding with a pixel budget: real scans pass, decompression bombs are refused before allocation.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;

use bindery_media::image::{self, ImageEncoder, Rgba, RgbaImage};
use bindery_media::{
    decode_grey_limited, decode_grey_page, decode_grey_with_limits, image_pages, DecodeLimits, MediaError,
    DEFAULT_MAX_PIXELS,
};

/// Records the largest single allocation made by the current thread, to prove
/// that refusing a bomb never allocates anything of the announced size.
struct PeakAllocator;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for PeakAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(layout.size())));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakAllocator = PeakAllocator;

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[&kind[..], data].concat()).to_be_bytes());
    out
}

/// A valid-looking PNG of a few dozen bytes whose header claims `width × height` grey pixels.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale, deflate, adaptive filter, no interlace
                                              // A zlib stream holding one empty stored block: tiny, though it could be any highly compressible data.
    let idat = [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01];
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &idat));
    png.extend(chunk(b"IEND", &[]));
    png
}

#[test]
fn a_png_claiming_ten_gigapixels_is_refused_without_allocating() {
    let bomb = png_bomb(100_000, 100_000);
    assert!(bomb.len() < 100, "the bomb is {} bytes", bomb.len());
    LARGEST.with(|largest| largest.set(0));
    let error = decode_grey_limited(&bomb, DEFAULT_MAX_PIXELS).unwrap_err();
    let largest = LARGEST.with(Cell::get);
    match error {
        MediaError::TooLarge { width, height, max_pixels, .. } => {
            assert_eq!((width, height, max_pixels), (100_000, 100_000, DEFAULT_MAX_PIXELS));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(largest < 4 << 20, "largest allocation was {largest} bytes");

    // Even a caller who lifts the pixel budget is stopped by the allocation budget.
    LARGEST.with(|largest| largest.set(0));
    let error = decode_grey_limited(&bomb, u64::MAX).unwrap_err();
    assert!(matches!(error, MediaError::TooLarge { width: 100_000, .. }), "{error:?}");
    assert!(!error.is_retryable());
    assert!(LARGEST.with(Cell::get) < 4 << 20);
}

#[test]
fn a_corpus_scan_decodes_to_grey_and_its_own_size_is_the_limit() {
    let Some(corpus) = common::corpus_dir() else { return };
    let mut scans: Vec<_> = std::fs::read_dir(corpus.join("ocr/en"))
        .expect("ocr/en")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "tiff"))
        .collect();
    scans.sort();
    let Some(path) = scans.first() else {
        bindery_testkit::missing("the corpus has no TIFF scan under ocr/en");
        return;
    };
    let bytes = std::fs::read(path).expect("read scan");
    let (width, height) =
        image::ImageReader::new(Cursor::new(&bytes)).with_guessed_format().unwrap().into_dimensions().unwrap();
    let grey = decode_grey_limited(&bytes, DEFAULT_MAX_PIXELS).expect("decode scan");
    assert_eq!(grey.dimensions(), (width, height));
    // A page scan holds both ink and paper.
    let dark = grey.pixels().filter(|p| p.0[0] < 96).count();
    let light = grey.pixels().filter(|p| p.0[0] > 160).count();
    assert!(dark > 0 && light > dark, "{}: dark {dark}, light {light}", path.display());

    let pixels = u64::from(width) * u64::from(height);
    assert!(decode_grey_limited(&bytes, pixels).is_ok(), "exactly at the limit is allowed");
    match decode_grey_limited(&bytes, pixels - 1) {
        Err(MediaError::TooLarge { width: w, height: h, .. }) => assert_eq!((w, h), (width, height)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let tight = DecodeLimits { max_pixels: pixels, max_alloc: pixels / 2 };
    assert!(matches!(decode_grey_with_limits(&bytes, &tight), Err(MediaError::TooLarge { .. })));
}

#[test]
fn transparency_becomes_paper_white() {
    let mut rgba = RgbaImage::new(2, 1);
    rgba.put_pixel(0, 0, Rgba([0, 0, 0, 0])); // transparent black: background
    rgba.put_pixel(1, 0, Rgba([0, 0, 0, 255])); // opaque black: ink
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(rgba.as_raw(), 2, 1, image::ExtendedColorType::Rgba8)
        .unwrap();
    let grey = decode_grey_limited(&png, 10).unwrap();
    assert_eq!(grey.as_raw(), &[255, 0]);
}

/// Garbage, unsupported formats, cut and damaged files are permanent decode errors, each saying why in an
/// uploader's words and what to do, never the decoder's.
#[test]
fn garbage_and_unsupported_formats_are_decode_errors_in_plain_words() {
    let said = |bytes: &[u8]| {
        let error = decode_grey_limited(bytes, DEFAULT_MAX_PIXELS).unwrap_err();
        assert!(matches!(error, MediaError::Decode(_)) && !error.is_retryable(), "{error:?}");
        error.to_string()
    };
    assert_eq!(said(b"definitely not an image"), "it is not a PNG, JPEG, TIFF or WebP image");
    assert_eq!(
        said(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
        "it is a GIF image, which this instance does not read; convert it to PNG or JPEG and upload it again"
    );
    let mut png = Vec::new();
    let page = image::GrayImage::from_fn(64, 64, |x, y| image::Luma([((x * 7) ^ (y * 13)) as u8]));
    page.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    assert_eq!(
        said(&png[..png.len() - 40]),
        "the PNG file is cut short (an interrupted transfer?); upload a complete copy"
    );
    let mut damaged = png.clone();
    let middle = damaged.len() / 2;
    damaged[middle..middle + 16].iter_mut().for_each(|b| *b = !*b);
    assert_eq!(said(&damaged), "the PNG file is damaged; upload an undamaged copy");
}

/// A grey TIFF of `pages` pages, page `i` filled with the grey level `40 * (i + 1)`, classic or BigTIFF.
fn multi_page_tiff(pages: u8, big: bool) -> Vec<u8> {
    use tiff::encoder::{colortype::Gray8, TiffEncoder};
    fn write<W: std::io::Write + std::io::Seek, K: tiff::encoder::TiffKind>(mut encoder: TiffEncoder<W, K>, pages: u8) {
        for i in 0..pages {
            let pixels = vec![40 * (i + 1); 8 * 6];
            encoder.write_image::<Gray8>(8, 6, &pixels).unwrap();
        }
    }
    let mut out = Cursor::new(Vec::new());
    if big {
        write(TiffEncoder::new_big(&mut out).unwrap(), pages);
    } else {
        write(TiffEncoder::new(&mut out).unwrap(), pages);
    }
    out.into_inner()
}

#[test]
fn every_page_of_a_multi_page_tiff_is_read() {
    for big in [false, true] {
        let tiff = multi_page_tiff(3, big);
        assert_eq!(image_pages(&tiff, 100).unwrap(), 3, "big: {big}");
        assert_eq!(image_pages(&tiff, 2).unwrap(), 2, "counting stops at the limit");
        for page in 0..3u32 {
            let grey = decode_grey_page(&tiff, page, &DecodeLimits::default()).unwrap();
            assert_eq!(grey.dimensions(), (8, 6));
            assert_eq!(grey.get_pixel(3, 3).0, [40 * (page as u8 + 1)], "page {page}, big: {big}");
        }
        let err = decode_grey_page(&tiff, 3, &DecodeLimits::default()).unwrap_err();
        assert!(err.to_string().contains("no page 4"), "{err}");
    }
}

#[test]
fn a_tiff_whose_pages_loop_ends_where_it_loops() {
    let mut tiff = multi_page_tiff(2, false);
    // Point the last directory's "next" at the first: the chain loops.
    let first = u32::from_le_bytes(tiff[4..8].try_into().unwrap()) as usize;
    let entries = u16::from_le_bytes(tiff[first..first + 2].try_into().unwrap()) as usize;
    let second =
        u32::from_le_bytes(tiff[first + 2 + entries * 12..first + 6 + entries * 12].try_into().unwrap()) as usize;
    let entries = u16::from_le_bytes(tiff[second..second + 2].try_into().unwrap()) as usize;
    let next = second + 2 + entries * 12;
    tiff[next..next + 4].copy_from_slice(&(first as u32).to_le_bytes());
    assert_eq!(image_pages(&tiff, 1_000).unwrap(), 2);
}

#[test]
fn webp_and_bigtiff_are_decoded() {
    let img = image::GrayImage::from_pixel(10, 4, image::Luma([90]));
    let mut webp = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
        .write_image(img.as_raw(), 10, 4, image::ExtendedColorType::L8)
        .unwrap();
    assert_eq!(decode_grey_limited(&webp, DEFAULT_MAX_PIXELS).unwrap().get_pixel(5, 2).0, [90]);
    let big = multi_page_tiff(1, true);
    assert!(big.starts_with(b"II+\0"));
    assert_eq!(decode_grey_limited(&big, DEFAULT_MAX_PIXELS).unwrap().get_pixel(5, 2).0, [40]);
}
