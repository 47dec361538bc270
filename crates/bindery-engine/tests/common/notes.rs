//! `notes`: a small pipeline of the engine's own tests, in two versions,
//! with nothing of the book in it. `count` stores an upload's word count,
//! `shout` the upload in capitals (after `count`), and indexes it for
//! search, which it forgets when the document is deleted; version 2 adds
//! `whisper`, the upload in small letters.

use async_trait::async_trait;
use bindery_core::Pipeline;
use bindery_pipeline::{Registry, Stage, StageContext, StageError, StageOutput};
use bindery_store::IndexedChapter;
use serde_json::json;
use std::sync::Arc;

/// What `notes` accepts.
pub const MEDIA_TYPES: &[&str] = &["text/plain", "text/markdown"];

/// Counts the words of an upload and stores the count as an artifact.
pub struct Count;

#[async_trait]
impl Stage for Count {
    fn name(&self) -> &'static str {
        "count"
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let text = ctx.blobs.get_bytes(&ctx.document.blob_key, 1 << 20).await.map_err(StageError::from_blob)?;
        let words = String::from_utf8_lossy(&text).split_whitespace().count();
        let counts =
            ctx.store("counts", "application/json", json!({ "words": words }).to_string().into_bytes()).await?;
        Ok(StageOutput { outputs: vec![counts], summary: json!({ "words": words }) })
    }
}

/// Reads the earlier stage's artifact and the upload, and stores the upload
/// in capitals.
pub struct Shout;

#[async_trait]
impl Stage for Shout {
    fn name(&self) -> &'static str {
        "shout"
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let counts: serde_json::Value = serde_json::from_slice(&ctx.read("counts", 4096).await?)
            .map_err(|e| StageError::Permanent(format!("counts: {e}")))?;
        let text = ctx.blobs.get_bytes(&ctx.document.blob_key, 1 << 20).await.map_err(StageError::from_blob)?;
        let loud = String::from_utf8_lossy(&text).to_uppercase();
        let search = ctx.search.as_ref().expect("the engine hands stages the search index");
        let chapter = IndexedChapter { index: 0, title: ctx.document.source.clone(), text: loud.clone() };
        search
            .index_document(&ctx.document.id, "en", &ctx.document.source, &[chapter])
            .await
            .map_err(|e| StageError::Retryable(format!("search index: {e}")))?;
        let shouted = ctx.store("shouted", "text/plain", loud.into_bytes()).await?;
        Ok(StageOutput { outputs: vec![shouted], summary: json!({ "words": counts["words"] }) })
    }

    async fn forget(&self, ctx: &StageContext) -> Result<(), StageError> {
        let search = ctx.search.as_ref().expect("the engine hands stages the search index");
        search.remove_document(&ctx.document.id).await.map(drop).map_err(|e| StageError::Retryable(e.to_string()))
    }

    fn restore_after_forget(&self) -> bool {
        true
    }
}

/// Stores the upload in small letters: the stage version 2 of the pipeline adds.
pub struct Whisper;

#[async_trait]
impl Stage for Whisper {
    fn name(&self) -> &'static str {
        "whisper"
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let text = ctx.blobs.get_bytes(&ctx.document.blob_key, 1 << 20).await.map_err(StageError::from_blob)?;
        let quiet = ctx.store("whispered", "text/plain", String::from_utf8_lossy(&text).to_lowercase().into()).await?;
        Ok(StageOutput { outputs: vec![quiet], summary: json!({}) })
    }
}

pub fn version_1() -> Pipeline {
    Pipeline::new("notes", 1, &[("count", &[]), ("shout", &["count"])]).unwrap()
}

pub fn version_2() -> Pipeline {
    Pipeline::new("notes", 2, &[("count", &[]), ("shout", &["count"]), ("whisper", &["count"])]).unwrap()
}

pub fn registry() -> Registry {
    Registry::new().with_stage(Arc::new(Count)).with_stage(Arc::new(Shout)).with_pipeline(version_1(), MEDIA_TYPES)
}

/// Version 2 of the pipeline, keeping version 1 for the documents started on it, or not.
pub fn registry_2(keep_version_1: bool) -> Registry {
    let r = Registry::new()
        .with_stage(Arc::new(Count))
        .with_stage(Arc::new(Shout))
        .with_stage(Arc::new(Whisper))
        .with_pipeline(version_2(), MEDIA_TYPES);
    if keep_version_1 {
        r.with_earlier_version(version_1())
    } else {
        r
    }
}
