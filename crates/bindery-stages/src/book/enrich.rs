//! `enrich`: summaries, keywords, characters, places, dialogue, sentiment
//! and scenes, through the [`Analyzer`] the registry was built with (the
//! offline analyzer by default; language-model providers plug in behind the
//! same trait).

use super::kinds;
use crate::stage::{Stage, StageContext, StageError, StageOutput};
use async_trait::async_trait;
use bindery_analyze::{AnalyzeContext, AnalyzeError, Analyzer, AnswerCache};
use bindery_blob::{BlobError, BlobStore};
use serde_json::json;
use std::sync::Arc;

/// Where analyzers' cached answers live in blob storage.
pub const CACHE_PREFIX: &str = "cache/analyzer";

/// The largest cached answer read back (a chapter's extraction is a few kilobytes).
const MAX_CACHED: u64 = 4 << 20;

/// The analyzer cache in blob storage: shared by every worker of a deployment, kept across reprocessing.
pub struct BlobAnswerCache(pub BlobStore);

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
        match self.0.get_bytes(&format!("{CACHE_PREFIX}/{key}"), MAX_CACHED).await {
            Ok(b) => Ok(Some(b.to_vec())),
            // A cache entry that is gone (or unreadably large) is only a miss.
            Err(BlobError::NotFound(_)) | Err(BlobError::TooLarge { .. }) => Ok(None),
            Err(e) => Err(cache_error(e)),
        }
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), AnalyzeError> {
        self.0.put_at(&format!("{CACHE_PREFIX}/{key}"), value.into()).await.map_err(cache_error)
    }
}

pub struct Enrich {
    analyzer: Arc<dyn Analyzer>,
}

impl Enrich {
    pub fn new(analyzer: Arc<dyn Analyzer>) -> Self {
        Self { analyzer }
    }
}

#[async_trait]
impl Stage for Enrich {
    fn name(&self) -> &'static str {
        "enrich"
    }

    fn providers(&self) -> Vec<bindery_analyze::ProviderStatus> {
        self.analyzer.providers()
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let book = Arc::new(ctx.book().await?);
        let actx = AnalyzeContext {
            document: ctx.document.id.clone(),
            cache: Some(Arc::new(BlobAnswerCache(ctx.blobs.clone()))),
            deadline_ms: ctx.document.deadline_ms,
        };
        let analysis = self.analyzer.analyze(book, &actx).await.map_err(|e| match e {
            AnalyzeError::Retryable(m) => StageError::Retryable(m),
            AnalyzeError::Permanent(m) => StageError::Permanent(m),
            AnalyzeError::Pending { after, note } => StageError::Wait { after, note },
        })?;
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
