//! Resized renditions and generated covers, decoded back to check them.

use bindery_media::image::{self, Rgb, RgbImage};
use bindery_media::{
    background_colour, decode_grey_limited, encode_sizes, typographic_cover, CoverFonts, ImageFormat, MediaError,
};

const ALL: [ImageFormat; 3] = [ImageFormat::Webp, ImageFormat::Jpeg, ImageFormat::Png];

/// A smooth gradient with a dark square: compressible, yet with edges an encoder must keep.
fn sample_image(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        if (width / 4..width / 2).contains(&x) && (height / 4..height / 2).contains(&y) {
            Rgb([20, 20, 30])
        } else {
            Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 160])
        }
    })
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let total: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    total as f64 / a.as_raw().len() as f64
}

fn decode(bytes: &[u8], format: ImageFormat) -> RgbImage {
    let format = match format {
        ImageFormat::Webp => image::ImageFormat::WebP,
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Png => image::ImageFormat::Png,
    };
    image::load_from_memory_with_format(bytes, format).expect("decodes").to_rgb8()
}

#[test]
fn every_width_and_format_decodes_back_at_the_right_size() {
    let source = sample_image(600, 400);
    let widths = [600, 300, 151];
    let renditions = encode_sizes(&source, &widths, &ALL).expect("encode");
    assert_eq!(renditions.len(), widths.len() * ALL.len());
    for rendition in &renditions {
        let expected_height = (f64::from(rendition.width) * 400.0 / 600.0).round() as u32;
        assert_eq!(rendition.height, expected_height, "{}px wide", rendition.width);
        let magic_ok = match rendition.format {
            ImageFormat::Webp => &rendition.bytes[..4] == b"RIFF" && &rendition.bytes[8..12] == b"WEBP",
            ImageFormat::Jpeg => rendition.bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            ImageFormat::Png => rendition.bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        };
        assert!(magic_ok, "{:?} bytes lack their signature", rendition.format);
        let decoded = decode(&rendition.bytes, rendition.format);
        assert_eq!(decoded.dimensions(), (rendition.width, rendition.height));
        // The same size through decode_grey_limited as well: what OCR would see.
        let grey = decode_grey_limited(&rendition.bytes, 1_000_000).expect("grey decode");
        assert_eq!(grey.dimensions(), (rendition.width, rendition.height));
    }
    // At the source width the content itself survives: exactly for PNG, closely for the lossy formats.
    for rendition in renditions.iter().filter(|r| r.width == 600) {
        let error = mean_abs_diff(&source, &decode(&rendition.bytes, rendition.format));
        match rendition.format {
            ImageFormat::Png => assert_eq!(error, 0.0),
            lossy => assert!(error < 4.0, "{lossy:?} mean error {error:.2}"),
        }
    }
}

#[test]
fn lossy_webp_is_smaller_than_lossless_png() {
    let renditions = encode_sizes(&sample_image(800, 1200), &[800], &[ImageFormat::Webp, ImageFormat::Png]).unwrap();
    assert!(
        renditions[0].bytes.len() < renditions[1].bytes.len(),
        "WebP {} vs PNG {}",
        renditions[0].bytes.len(),
        renditions[1].bytes.len()
    );
}

#[test]
fn zero_width_is_bad_input() {
    let error = encode_sizes(&sample_image(10, 10), &[0], &ALL).unwrap_err();
    assert!(matches!(error, MediaError::InvalidInput(_)) && !error.is_retryable());
}

fn fonts_installed() -> bool {
    bindery_testkit::require(
        CoverFonts::load_default().is_ok(),
        "DejaVu fonts are absent (apt-get install fonts-dejavu-core)",
    )
}

#[test]
fn covers_are_deterministic_per_title_and_two_by_three() {
    if !fonts_installed() {
        return;
    }
    let first = typographic_cover("Alice's Adventures in Wonderland", Some("Lewis Carroll"), 600).unwrap();
    let again = typographic_cover("Alice's Adventures in Wonderland", Some("Lewis Carroll"), 600).unwrap();
    let other = typographic_cover("Le Tour du monde en quatre-vingts jours", Some("Jules Verne"), 600).unwrap();
    assert_eq!(first.dimensions(), (600, 900));
    assert_eq!(first, again);
    assert_ne!(first, other);
    assert_ne!(background_colour("Alice's Adventures in Wonderland"), background_colour("Candide"));
    // The corner shows the title's background colour; the text covers a real share of the surface.
    let background = Rgb(background_colour("Alice's Adventures in Wonderland"));
    assert_eq!(*first.get_pixel(2, 2), background);
    let inked = first.pixels().filter(|p| **p != background).count();
    let share = inked as f64 / f64::from(600 * 900);
    assert!((0.02..0.5).contains(&share), "ink covers {:.1}% of the cover", share * 100.0);

    let without_author = typographic_cover("Alice's Adventures in Wonderland", None, 600).unwrap();
    assert_ne!(first, without_author, "the author line is drawn");
    let large = typographic_cover("Candide", None, 1200).unwrap();
    assert_eq!(large.dimensions(), (1200, 1800));
}

#[test]
fn long_titles_still_fit_and_blank_titles_are_refused() {
    if !fonts_installed() {
        return;
    }
    let title =
        "Supercalifragilisticexpialidocious and the Extraordinarily Long Title of a Victorian Novel in Three Volumes";
    let cover = typographic_cover(title, Some("Anonymous"), 400).unwrap();
    assert_eq!(cover.dimensions(), (400, 600));
    assert!(matches!(typographic_cover("   ", None, 400), Err(MediaError::InvalidInput(_))));
}

#[test]
fn a_folder_without_fonts_gives_a_clear_font_error() {
    let empty = tempfile::tempdir().unwrap();
    let Err(error) = CoverFonts::load(empty.path()) else { panic!("loaded fonts from an empty folder") };
    assert!(matches!(error, MediaError::Font(_)));
    let message = error.to_string();
    assert!(message.contains("fonts-dejavu-core") && message.contains("BINDERY_FONT_DIR"), "{message}");
}
