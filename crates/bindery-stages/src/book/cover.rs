//! `cover`: the first page of a paged document, or a generated typographic
//! cover (title, author) when there is none or it is blank; 160, 480 and
//! 1200 px wide, in WebP and JPEG.

use super::{blocking, io};
use crate::stage::{Stage, StageContext, StageError, StageOutput};
use async_trait::async_trait;
use bindery_media::image::RgbImage;
use bindery_media::{encode_sizes, typographic_cover, ImageFormat};
use serde_json::json;

pub const WIDTHS: [u32; 3] = [160, 480, 1200];

pub struct Cover;

/// The artifact kind of one rendition, e.g. `cover-480.webp`.
pub fn kind(width: u32, format: ImageFormat) -> String {
    format!("cover-{width}.{}", format.extension())
}

#[async_trait]
impl Stage for Cover {
    fn name(&self) -> &'static str {
        "cover"
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let book = ctx.book().await?;
        let dir = tempfile::tempdir().map_err(io)?;
        let source = match ctx.format()?.paged() {
            Some(kind) => Some((ctx.source_file(dir.path()).await?, kind)),
            None => None,
        };
        let title = book.title.clone().unwrap_or_else(|| ctx.document.source.clone());
        let author = book.author.clone();
        let (origin, images) = blocking("cover", move || {
            let page = source.and_then(|(path, kind)| first_page(&path, kind)).filter(|img| !is_blank(img));
            let (origin, img) = match page {
                Some(img) => ("first-page", img),
                None => (
                    "typographic",
                    typographic_cover(&title, author.as_deref(), WIDTHS[2]).map_err(super::narrate::media_error)?,
                ),
            };
            let encoded = encode_sizes(&img, &WIDTHS, &[ImageFormat::Webp, ImageFormat::Jpeg])
                .map_err(super::narrate::media_error)?;
            Ok((origin, encoded))
        })
        .await?;
        let mut outputs = Vec::new();
        for img in images {
            outputs.push(ctx.store(&kind(img.width, img.format), img.format.media_type(), img.bytes).await?);
        }
        Ok(StageOutput { outputs, summary: json!({"origin": origin, "renditions": WIDTHS.len() * 2}) })
    }
}

/// Page 1 rendered 1200 px wide, or `None` if it cannot be rendered (the
/// typographic cover is the fallback, not a failure).
fn first_page(path: &std::path::Path, kind: bindery_pdf::DocKind) -> Option<RgbImage> {
    let doc = bindery_pdf::Doc::open(path, kind, bindery_pdf::OpenOptions::default()).ok()?;
    let r = doc.render_rgb(1, WIDTHS[2]).ok()?;
    RgbImage::from_raw(r.width, r.height, r.pixels)
}

/// A page with almost no ink is no cover.
fn is_blank(img: &RgbImage) -> bool {
    let inked = img.pixels().step_by(7).filter(|p| p.0.iter().any(|c| *c < 200)).count();
    let sampled = (img.width() as usize * img.height() as usize).div_ceil(7);
    inked * 200 < sampled
}
