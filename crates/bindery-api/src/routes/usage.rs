//! What a project spent on language models: the sum of its documents' enrichment reports (the `model` object of the
//! `enrich` stage's summary, see docs/enrichment.md), per provider and model.
//!
//! Summed on read from the documents' projections, page by page: the figures are exactly those the documents show,
//! and there is no second counter to drift from them. A project's documents are read in pages of 500, so the cost is
//! one indexed scan of the project's rows.

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::extract::Path;
use crate::AppState;
use axum::extract::State;
use bindery_store::Role;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

const PAGE: i64 = 500;

/// Language-model use of one provider and model in a project.
#[derive(Serialize, ToSchema, Default, Debug, PartialEq)]
pub struct ModelUsage {
    pub provider: String,
    pub model: String,
    /// Documents enriched by this model (in their current run).
    pub documents: u64,
    pub requests: u64,
    /// Chunks answered from the cache, at no cost.
    pub cached: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Estimated from the configured prices; documents without a price add nothing.
    pub cost_usd: f64,
    /// Chunks analysed offline because the model's answer could not be used.
    pub fallbacks: u64,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectUsage {
    pub project: String,
    /// Documents of the project, enriched by a model or not.
    pub documents: u64,
    pub models: Vec<ModelUsage>,
    /// The sum of `models[].cost_usd`.
    pub cost_usd: f64,
}

/// Token use and estimated cost of the project's language-model enrichment, per provider and model.
#[utoipa::path(get, path = "/api/v1/projects/{project}/usage", tag = "projects", security(("bearer" = [])),
    params(("project" = String, Path)), responses((status = 200, body = ProjectUsage), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<Json<ProjectUsage>> {
    caller.require(&state, &project, Role::Viewer).await?;
    let mut by_model: BTreeMap<(String, String), ModelUsage> = BTreeMap::new();
    let mut documents = 0u64;
    let mut after = String::new();
    loop {
        let page = state.store().project_documents(&project, &after, PAGE).await?;
        for doc in &page {
            documents += 1;
            if let Some(report) = doc.results.get("enrich").and_then(|e| e.get("model")) {
                add(&mut by_model, report);
            }
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => after = last.id.clone(),
            _ => break,
        }
    }
    let models: Vec<ModelUsage> = by_model.into_values().collect();
    // An empty sum of floats is -0.0; adding 0.0 makes it the 0 a reader expects.
    let cost_usd = models.iter().map(|m| m.cost_usd).sum::<f64>() + 0.0;
    Ok(Json(ProjectUsage { project, documents, models, cost_usd }))
}

fn add(by_model: &mut BTreeMap<(String, String), ModelUsage>, report: &Value) {
    let text = |k: &str| report[k].as_str().unwrap_or_default().to_owned();
    let n = |k: &str| report[k].as_u64().unwrap_or(0);
    let (provider, model) = (text("provider"), text("model"));
    let u = by_model.entry((provider.clone(), model.clone())).or_insert_with(|| ModelUsage {
        provider,
        model,
        ..Default::default()
    });
    u.documents += 1;
    u.requests += n("requests");
    u.cached += n("cached");
    u.prompt_tokens += n("prompt_tokens");
    u.completion_tokens += n("completion_tokens");
    u.cost_usd += report["cost_usd"].as_f64().unwrap_or(0.0);
    u.fallbacks += n("fallbacks");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_add_up_per_provider_and_model() {
        let mut m = BTreeMap::new();
        let r = |model: &str, tokens: u64, cost: Option<f64>| {
            json!({"provider": "openai-compatible", "model": model, "requests": 4, "cached": 1,
                   "prompt_tokens": tokens, "completion_tokens": tokens / 2, "cost_usd": cost, "fallbacks": 1})
        };
        add(&mut m, &r("a", 100, Some(0.5)));
        add(&mut m, &r("a", 300, Some(0.25)));
        add(&mut m, &r("b", 10, None));
        let a = &m[&("openai-compatible".to_string(), "a".to_string())];
        assert_eq!((a.documents, a.requests, a.cached, a.prompt_tokens, a.completion_tokens), (2, 8, 2, 400, 200));
        assert_eq!((a.cost_usd, a.fallbacks), (0.75, 2));
        assert_eq!(m[&("openai-compatible".to_string(), "b".to_string())].cost_usd, 0.0);
    }
}
