//! `GET /projects/{p}/usage`: a project's language-model spending, summed from its documents' enrichment reports,
//! with a model behind `enrich` (the fake OpenAI server); upload deadlines validated on the way in; the provider's
//! circuit breaker on the admin API.

mod common;

use bindery_enrich::testing::plain_model;
use bindery_enrich::{LlmAnalyzer, LlmOptions};
use bindery_llm::fake::FakeOpenAi;
use bindery_llm::{Client, Price, ProviderOptions};
use common::{problem, sample_book, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn usage(backend: Backend) {
    let fake = FakeOpenAi::start(Arc::new(plain_model)).await;
    let mut provider = ProviderOptions::new("fake", fake.base_url(), "fake-model");
    provider.price = Some(Price::new(1.0, 2.0));
    let analyzer = LlmAnalyzer::new(Client::new(provider).unwrap(), LlmOptions::default());
    let registry = bindery_stages::registry_with(Arc::new(analyzer));
    let Some(app) = TestApp::spawn_with_registry(backend, registry, |_| {}).await else { return };
    let alice = app.user("alice@example.org", false).await;
    let project = app.project(&alice, "library").await;

    let r = app
        .request(
            Method::POST,
            &format!("/api/v1/projects/{project}/documents?filename=a.txt&deadline=soon"),
            Some(&alice.access),
        )
        .body(sample_book("deadline"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.1["code"], "unprocessable", "a malformed deadline is refused");

    let a = app.upload(&alice.access, &project, "a.txt", sample_book("one")).await;
    let b = app.upload(&alice.access, &project, "b.txt", sample_book("two")).await;
    let mut docs = Vec::new();
    for id in [&a, &b] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let d: Value = app.get(&format!("/api/v1/documents/{id}"), &alice.access).await.json().await.unwrap();
            if d["status"] != "processing" {
                assert_eq!(d["status"], "ready", "{d}");
                docs.push(d);
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "document {id} never finished");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let u: Value = app.get(&format!("/api/v1/projects/{project}/usage"), &alice.access).await.json().await.unwrap();
    assert_eq!(u["documents"], 2);
    let models = u["models"].as_array().unwrap();
    assert_eq!(models.len(), 1);
    let m = &models[0];
    assert_eq!(
        (m["provider"].as_str(), m["model"].as_str(), m["documents"].as_u64()),
        (Some("fake"), Some("fake-model"), Some(2))
    );
    let sum = |k: &str| docs.iter().map(|d| d["results"]["enrich"]["model"][k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(m["requests"].as_u64(), Some(sum("requests")));
    assert_eq!(m["requests"].as_u64(), Some(fake.chat_calls() as u64));
    assert_eq!(m["prompt_tokens"].as_u64(), Some(sum("prompt_tokens")));
    let cost: f64 = docs.iter().map(|d| d["results"]["enrich"]["model"]["cost_usd"].as_f64().unwrap()).sum();
    assert!((u["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-12 && cost > 0.0);

    let bob = app.user("bob@example.org", false).await;
    assert_eq!(
        app.get(&format!("/api/v1/projects/{project}/usage"), &bob.access).await.status(),
        StatusCode::NOT_FOUND
    );

    // The provider's circuit breaker, for instance administrators.
    assert_eq!(app.get("/api/v1/admin/providers", &alice.access).await.status(), StatusCode::FORBIDDEN);
    let root = app.user("root@example.org", true).await;
    let providers: Value = app.get("/api/v1/admin/providers", &root.access).await.json().await.unwrap();
    assert_eq!(providers, json!([{"stage": "enrich", "provider": "fake", "model": "fake-model", "breaker": "closed"}]));
    app.stop().await;
}

#[tokio::test]
async fn usage_sqlite() {
    usage(Backend::Sqlite).await;
}

#[tokio::test]
async fn usage_postgres() {
    usage(Backend::Postgres).await;
}
