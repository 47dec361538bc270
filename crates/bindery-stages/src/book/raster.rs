//! `raster`: page thumbnails for the UI, two sizes in WebP. Pages are
//! rendered by MuPDF and encoded in a child process with limits (see
//! [`crate::sandbox`]), a batch of pages per child, and stored here. The
//! renditions are stored as blobs and listed in one `thumbnails` manifest
//! artifact, so a 1,000-page book adds one artifact to its events, not two
//! thousand; each rendition's key is noted as a reference of the document
//! (`StageContext::references`), so that deleting the document deletes the
//! thumbnails no other document shares. Full pages at a chosen resolution
//! are rendered on request by `bindery pages`, not here.
//!
//! A page that cannot be rendered (one very tall page, a damaged one) goes
//! without thumbnails and is named in the summary's `warnings`: the rest of
//! the book is worth showing. A crash or running out of memory still fails
//! the document, as anywhere the sandbox runs.

use super::ocr::read_header;
use super::BookContext;
use super::{io, kinds};
use crate::sandbox::Sandbox;
use async_trait::async_trait;
use bindery_pipeline::{Stage, StageContext, StageError, StageOutput};
use serde_json::json;
use std::collections::BTreeMap;

pub const THUMBNAIL_WIDTHS: [u32; 2] = [120, 360];

/// WebP cannot be taller than this; a page this tall at a thumbnail's
/// width is a strip, not a page worth a thumbnail.
pub const MAX_THUMBNAIL_HEIGHT: u32 = 16_383;

/// Pages per child. One child renders a whole ordinary book, so MuPDF's
/// fonts and glyphs are loaded and rasterised once; a longer book takes a
/// few children, each well inside the parse deadline, and the worker
/// uploads each child's thumbnails before the next starts.
const PAGES_PER_CHILD: usize = 200;

/// A book's pages in the batches [`Raster`] hands to children: every page
/// but those `extract` could not read, [`PAGES_PER_CHILD`] at a time.
pub fn thumbnail_batches(pages: u32, unreadable: &[u32]) -> Vec<Vec<u32>> {
    let pages: Vec<u32> = (1..=pages).filter(|page| !unreadable.contains(page)).collect();
    pages.chunks(PAGES_PER_CHILD).map(<[u32]>::to_vec).collect()
}

/// The stage, with the sandbox its pages are rendered in.
pub struct Raster {
    sandbox: Sandbox,
}

impl Raster {
    pub fn new(sandbox: Sandbox) -> Self {
        Self { sandbox }
    }
}

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
        let header = read_header(ctx).await?;
        let pages = header.pages;
        let dir = tempfile::tempdir().map_err(io)?;
        let source = ctx.source_file(dir.path()).await?;
        let scratch = dir.path().join("pages");
        std::fs::create_dir(&scratch).map_err(io)?;
        // Pages `extract` could not read are warned of once, there, and not tried again.
        let mut manifest: BTreeMap<u32, BTreeMap<u32, String>> = BTreeMap::new();
        let mut warnings = Vec::new();
        for batch in thumbnail_batches(pages, &header.unreadable_pages) {
            let (written, skipped) = self
                .sandbox
                .thumbnails(&source, kind, &scratch, &batch, &THUMBNAIL_WIDTHS, MAX_THUMBNAIL_HEIGHT)
                .await?;
            warnings.extend(skipped.into_iter().map(|s| format!("no thumbnail for page {}: {}", s.page, s.reason)));
            for (thumb, path) in written {
                let stored = ctx.blobs.put_file(&path).await.map_err(StageError::from_blob)?;
                ctx.references.note(stored.key.clone());
                tokio::fs::remove_file(&path).await.map_err(io)?;
                manifest.entry(thumb.page).or_default().insert(thumb.width, stored.key);
            }
        }
        let listed: Vec<_> = manifest.iter().map(|(n, sizes)| json!({"page": n, "webp": sizes})).collect();
        let body = serde_json::to_vec(&json!({"widths": THUMBNAIL_WIDTHS, "pages": listed})).expect("json");
        let artifact = ctx.store(kinds::THUMBNAILS, "application/json", body).await?;
        let mut summary = json!({"pages": manifest.len(), "widths": THUMBNAIL_WIDTHS});
        if !warnings.is_empty() {
            summary["warnings"] = json!(warnings);
        }
        Ok(StageOutput { outputs: vec![artifact], summary })
    }
}
