//! `cover`: the first page of a paged document, or a generated typographic
//! cover (title, author) when there is none or it is blank; 160, 480 and
//! 1200 px wide, in WebP and JPEG. The page is rendered by MuPDF in a child
//! process with limits (see [`crate::sandbox`]).

use super::BookContext;
use super::{blocking, io};
use crate::sandbox::{RenderJob, RenderSize, Sandbox};
use async_trait::async_trait;
use bindery_media::image::RgbImage;
use bindery_media::{encode_sizes, typographic_cover_with_fonts, CoverFonts, ImageFormat};
use bindery_pipeline::{Stage, StageContext, StageError, StageOutput};
use serde_json::json;
use std::path::PathBuf;

pub const WIDTHS: [u32; 3] = [160, 480, 1200];

/// The render request for a cover: page 1 at the largest cover width.
pub fn first_page_job() -> RenderJob {
    RenderJob { page: 1, size: RenderSize::RgbWidth(WIDTHS[2]) }
}

/// The stage, with the sandbox its first page is rendered in and the folder
/// of the typographic cover's fonts (the `font-dir` setting).
pub struct Cover {
    sandbox: Sandbox,
    font_dir: PathBuf,
}

impl Cover {
    pub fn new(sandbox: Sandbox, font_dir: PathBuf) -> Self {
        Self { sandbox, font_dir }
    }
}

/// The artifact kind of one rendition, e.g. `cover-480.webp`.
pub fn kind(width: u32, format: ImageFormat) -> String {
    format!("cover-{width}.{}", format.extension())
}

#[async_trait]
impl Stage for Cover {
    fn name(&self) -> &'static str {
        "cover"
    }

    /// The sandbox's deadline ends the rendering; the rest is downloading,
    /// encoding and storing.
    fn timeout(&self) -> std::time::Duration {
        self.sandbox.options().timeout + std::time::Duration::from_secs(120)
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let (title, author) = title_and_author(ctx).await?;
        let dir = tempfile::tempdir().map_err(io)?;
        let page = match ctx.format()?.paged() {
            Some(kind) => self.first_page(ctx, dir.path(), kind).await?,
            None => None,
        };
        let title = title.unwrap_or_else(|| ctx.document.source.clone());
        let font_dir = self.font_dir.clone();
        let (origin, images) = blocking("cover", move || {
            let page = page.filter(|img| !is_blank(img));
            let (origin, img) = match page {
                Some(img) => ("first-page", img),
                None => (
                    "typographic",
                    CoverFonts::load(&font_dir)
                        .and_then(|fonts| typographic_cover_with_fonts(&title, author.as_deref(), WIDTHS[2], &fonts))
                        .map_err(super::narrate::media_error)?,
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

impl Cover {
    /// Page 1 rendered 1200 px wide, or `None` if MuPDF refuses to render it
    /// (the typographic cover is the fallback, not a failure). A crash or
    /// running out of memory fails the document, as anywhere the sandbox runs.
    async fn first_page(
        &self,
        ctx: &StageContext,
        dir: &std::path::Path,
        kind: bindery_pdf::DocKind,
    ) -> Result<Option<RgbImage>, StageError> {
        let source = ctx.source_file(dir).await?;
        let (mut images, _) = self.sandbox.render(&source, kind, dir, &[first_page_job()], true).await?;
        Ok(images.pop().flatten().and_then(|r| RgbImage::from_raw(r.width, r.height, r.pixels)))
    }
}

/// The book's title and author, from `structure`'s summary, which records
/// them: a cover needs no more of the book, whose whole text may be large.
/// A document whose summary lacks them (made before the summary named
/// them) reads the book.
async fn title_and_author(ctx: &StageContext) -> Result<(Option<String>, Option<String>), StageError> {
    match super::view::Headline::recorded(&ctx.document) {
        Some(headline) => Ok((headline.title, headline.author)),
        None => {
            let book = ctx.book().await?;
            Ok((book.title, book.author))
        }
    }
}

/// A page with almost no ink is no cover.
fn is_blank(img: &RgbImage) -> bool {
    let inked = img.pixels().step_by(7).filter(|p| p.0.iter().any(|c| *c < 200)).count();
    let sampled = (img.width() as usize * img.height() as usize).div_ceil(7);
    inked * 200 < sampled
}
