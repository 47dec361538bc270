//! `raster`: page thumbnails for the UI, two sizes in WebP, one page at a
//! time. The renditions are stored as blobs and listed in one `thumbnails`
//! manifest artifact, so a 1,000-page book adds one artifact to its events,
//! not two thousand. Full pages at a chosen resolution are rendered on
//! request by `bindery pages`, not here.

use super::{io, kinds};
use crate::stage::{Stage, StageContext, StageError, StageOutput};
use async_trait::async_trait;
use bindery_media::image::RgbImage;
use bindery_media::{encode, ImageFormat};
use serde_json::json;
use std::collections::BTreeMap;

pub const THUMBNAIL_WIDTHS: [u32; 2] = [120, 360];

pub struct Raster;

#[async_trait]
impl Stage for Raster {
    fn name(&self) -> &'static str {
        "raster"
    }

    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1800)
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let Some(kind) = ctx.format()?.paged() else {
            return Ok(StageOutput { outputs: vec![], summary: json!({"pages": 0, "skipped": "not a paged format"}) });
        };
        let dir = tempfile::tempdir().map_err(io)?;
        let source = ctx.source_file(dir.path()).await?;
        // Two pages in flight at most: the renderer waits for uploads.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<(u32, Vec<bindery_media::EncodedImage>), StageError>>(2);
        let render = tokio::task::spawn_blocking(move || {
            let doc = match bindery_pdf::Doc::open(&source, kind, bindery_pdf::OpenOptions::default()) {
                Ok(d) => d,
                Err(e) => return tx.blocking_send(Err(super::pdf_error(e))).unwrap_or(()),
            };
            for n in 1..=doc.page_count() {
                // MuPDF renders each size directly: cheaper and sharper than
                // rendering once and resampling.
                let result = THUMBNAIL_WIDTHS
                    .iter()
                    .map(|&w| {
                        let r = doc.render_rgb(n, w).map_err(super::pdf_error)?;
                        let (width, height) = (r.width, r.height);
                        let img = RgbImage::from_raw(width, height, r.pixels)
                            .ok_or_else(|| StageError::Permanent(format!("page {n}: bad raster")))?;
                        let bytes = encode(&img, ImageFormat::Webp).map_err(super::narrate::media_error)?;
                        Ok(bindery_media::EncodedImage { width, height, format: ImageFormat::Webp, bytes })
                    })
                    .collect::<Result<Vec<_>, StageError>>()
                    .map(|imgs| (n, imgs));
                if tx.blocking_send(result).is_err() {
                    return;
                }
            }
        });
        let mut manifest: BTreeMap<u32, BTreeMap<u32, String>> = BTreeMap::new();
        while let Some(item) = rx.recv().await {
            let (n, imgs) = item?;
            for img in imgs {
                let stored = ctx.blobs.put_bytes(img.bytes.into()).await.map_err(StageError::from_blob)?;
                manifest.entry(n).or_default().insert(img.width, stored.key);
            }
        }
        render.await.map_err(|_| StageError::Permanent("rendering thumbnails crashed".into()))?;
        let pages: Vec<_> = manifest.iter().map(|(n, sizes)| json!({"page": n, "webp": sizes})).collect();
        let body = serde_json::to_vec(&json!({"widths": THUMBNAIL_WIDTHS, "pages": pages})).expect("json");
        let artifact = ctx.store(kinds::THUMBNAILS, "application/json", body).await?;
        Ok(StageOutput {
            outputs: vec![artifact],
            summary: json!({"pages": manifest.len(), "widths": THUMBNAIL_WIDTHS}),
        })
    }
}
