//! `enrich`: summaries, keywords, characters, places, dialogue, sentiment
//! and scenes, through the [`Analyzer`] the registry was built with (the
//! offline analyzer by default; language-model providers plug in behind the
//! same trait).

use super::kinds;
use crate::stage::{Stage, StageContext, StageError, StageOutput};
use async_trait::async_trait;
use bindery_analyze::{AnalyzeError, Analyzer};
use serde_json::json;
use std::sync::Arc;

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

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let book = Arc::new(ctx.book().await?);
        let analysis = self.analyzer.analyze(book).await.map_err(|e| match e {
            AnalyzeError::Retryable(m) => StageError::Retryable(m),
            AnalyzeError::Permanent(m) => StageError::Permanent(m),
        })?;
        let top = |names: Vec<&str>| names.into_iter().take(10).map(str::to_owned).collect::<Vec<_>>();
        let summary = json!({
            "analyzer": analysis.analyzer,
            "characters": analysis.characters.len(),
            "places": analysis.places.len(),
            "main_characters": top(analysis.characters.iter().map(|c| c.name.as_str()).collect()),
            "keywords": top(analysis.keywords.iter().map(|k| k.term.as_str()).collect()),
        });
        let json = serde_json::to_vec(&analysis).expect("analysis serialises");
        let artifact = ctx.store(kinds::ANALYSIS, "application/json", json).await?;
        Ok(StageOutput { outputs: vec![artifact], summary })
    }
}
