//! `enrich`: summaries, keywords, characters, places, dialogue, sentiment
//! and scenes, through one of the [`Analyzers`] the registry was built with:
//! the one the document's project chose (recorded on the document when its
//! run started), or the instance's default (the offline analyzer unless the
//! operator configured a language model).

use super::kinds;
use super::BookContext;
use async_trait::async_trait;
use bindery_analyze::{AnalyzeContext, AnalyzeError, Analyzers, AnswerCache};
use bindery_blob::{BlobError, BlobStore};
use bindery_core::DocumentState;
use bindery_pipeline::{ProviderStatus, References, Stage, StageContext, StageError, StageOutput};
use serde_json::json;
use std::sync::Arc;

/// Where analyzers' cached answers live in blob storage.
pub const CACHE_PREFIX: &str = "cache/analyzer";

/// The largest cached answer read back (a chapter's extraction is a few kilobytes).
const MAX_CACHED: u64 = 4 << 20;

/// The analyzer cache in blob storage: shared by every worker of a deployment, kept across reprocessing. It notes
/// every entry a run found or wrote in the run's [`References`], which the document then holds, so that deleting
/// the last document that used an answer deletes the answer too.
pub struct BlobAnswerCache {
    blobs: BlobStore,
    used: References,
}

impl BlobAnswerCache {
    pub fn new(blobs: BlobStore, used: References) -> Self {
        Self { blobs, used }
    }
}

fn cache_error(e: BlobError) -> AnalyzeError {
    if e.is_retryable() {
        AnalyzeError::Retryable(format!("analyzer cache: {e}"))
    } else {
        AnalyzeError::Permanent(format!("analyzer cache: {e}"))
    }
}

#[async_trait]
impl AnswerCache for BlobAnswerCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, AnalyzeError> {
        let blob_key = format!("{CACHE_PREFIX}/{key}");
        match self.blobs.get_bytes(&blob_key, MAX_CACHED).await {
            Ok(b) => {
                self.used.note(blob_key);
                Ok(Some(b.to_vec()))
            }
            // A cache entry that is gone (or unreadably large) is only a miss.
            Err(BlobError::NotFound(_)) | Err(BlobError::TooLarge { .. }) => Ok(None),
            Err(e) => Err(cache_error(e)),
        }
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), AnalyzeError> {
        let blob_key = format!("{CACHE_PREFIX}/{key}");
        self.blobs.put_at(&blob_key, value.into()).await.map_err(cache_error)?;
        self.used.note(blob_key);
        Ok(())
    }
}

fn stage_error(e: AnalyzeError) -> StageError {
    match e {
        AnalyzeError::Retryable(m) => StageError::Retryable(m),
        AnalyzeError::Permanent(m) => StageError::Permanent(m),
        AnalyzeError::Pending { after, note } => StageError::Wait { after, note },
    }
}

pub struct Enrich {
    analyzers: Analyzers,
}

impl Enrich {
    pub fn new(analyzers: Analyzers) -> Self {
        Self { analyzers }
    }
}

#[async_trait]
impl Stage for Enrich {
    fn name(&self) -> &'static str {
        "enrich"
    }

    fn providers(&self) -> Vec<ProviderStatus> {
        let status = |p: bindery_analyze::ProviderStatus| ProviderStatus {
            provider: p.provider,
            model: p.model,
            breaker: p.breaker,
        };
        self.analyzers.providers().into_iter().map(status).collect()
    }

    async fn cancelled(&self, document: &DocumentState) -> Result<(), StageError> {
        // An analyzer this process does not offer started nothing from here either.
        let Some(analyzer) = self.analyzers.get(document.analyzer.as_deref()) else { return Ok(()) };
        let ctx = AnalyzeContext { document: document.id.clone(), cache: None, deadline_ms: document.deadline_ms };
        analyzer.cancelled(&ctx).await.map(|_| ()).map_err(stage_error)
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let chosen = ctx.document.analyzer.as_deref();
        // A name this worker does not offer means the workers' configurations differ (or the operator removed
        // an analyzer a project still names): a configuration error, which retrying here cannot mend. The
        // document fails with the reason and can be retried once the configuration is fixed.
        let analyzer = self.analyzers.get(chosen).ok_or_else(|| {
            StageError::Permanent(format!(
                "the project chose analyzer {:?}, which this worker does not offer (it offers: {})",
                chosen.unwrap_or_default(),
                self.analyzers.names().join(", ")
            ))
        })?;
        let book = Arc::new(ctx.book().await?);
        let cache = Arc::new(BlobAnswerCache::new(ctx.blobs.clone(), ctx.references.clone()));
        let actx = AnalyzeContext {
            document: ctx.document.id.clone(),
            cache: Some(cache.clone()),
            deadline_ms: ctx.document.deadline_ms,
        };
        let analysis = analyzer.analyze(book, &actx).await.map_err(stage_error)?;
        let top = |names: Vec<&str>| names.into_iter().take(10).map(str::to_owned).collect::<Vec<_>>();
        let mut summary = json!({
            "analyzer": analysis.analyzer,
            "characters": analysis.characters.len(),
            "places": analysis.places.len(),
            "main_characters": top(analysis.characters.iter().map(|c| c.name.as_str()).collect()),
            "keywords": top(analysis.keywords.iter().map(|k| k.term.as_str()).collect()),
        });
        if let Some(m) = &analysis.model {
            // Kept in the stage's summary (and so in the document's projection) for per-document and per-project
            // accounting.
            summary["model"] = json!({
                "provider": m.provider, "model": m.model, "mode": m.mode,
                "chunks": m.chunks, "cached": m.cached, "requests": m.requests,
                "prompt_tokens": m.prompt_tokens, "completion_tokens": m.completion_tokens,
                "cost_usd": m.cost_usd, "fallbacks": m.fallbacks.len(),
            });
        }
        let json = serde_json::to_vec(&analysis).expect("analysis serialises");
        let artifact = ctx.store(kinds::ANALYSIS, "application/json", json).await?;
        Ok(StageOutput { outputs: vec![artifact], summary })
    }
}
