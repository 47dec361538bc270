//! `GET /projects/{p}/usage`: a project's language-model spending, summed from its documents' enrichment reports,
//! with a model behind `enrich` (the fake OpenAI server); upload deadlines validated on the way in; the provider's
//! circuit breaker on the admin API; a project choosing among the instance's analyzers.

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
    let analyzers = bindery_stages::Analyzers::new(Arc::new(analyzer));
    let Some(app) = TestApp::spawn_with_analyzers(backend, analyzers, |_| {}).await else { return };
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
        let d = finished(&app, &alice.access, id).await;
        assert_eq!(d["status"], "ready", "{d}");
        docs.push(d);
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

/// Follows a document's progress stream to its end (`document.ready` or `document.failed`), then reads it.
async fn finished(app: &TestApp, token: &str, id: &str) -> Value {
    tokio::time::timeout(Duration::from_secs(120), app.follow(token, id, None))
        .await
        .unwrap_or_else(|_| panic!("document {id} never finished"));
    app.get(&format!("/api/v1/documents/{id}"), token).await.json().await.unwrap()
}

/// `GET /analyzers` lists what the instance offers; an owner chooses one for the project with `PATCH`; uploads
/// follow the choice; null goes back to the default.
async fn project_analyzer(backend: Backend) {
    let fake = FakeOpenAi::start(Arc::new(plain_model)).await;
    let provider = ProviderOptions::new("fake", fake.base_url(), "fake-model");
    let model = LlmAnalyzer::new(Client::new(provider).unwrap(), LlmOptions::default());
    let analyzers = bindery_stages::Analyzers::default().with("model", Arc::new(model)).unwrap();
    let Some(app) = TestApp::spawn_with_analyzers(backend, analyzers, |_| {}).await else { return };
    let alice = app.user("alice@example.org", false).await;
    let bob = app.user("bob@example.org", false).await;
    let project = app.project(&alice, "library").await;
    app.join(&alice, &project, &bob, "editor").await;

    let offered: Value = app.get("/api/v1/analyzers", &bob.access).await.json().await.unwrap();
    assert_eq!(
        offered,
        json!({"default": "offline", "offered": [
            {"name": "model", "analyzer": "fake:fake-model", "default": false},
            {"name": "offline", "analyzer": "offline", "default": true}]})
    );
    let path = format!("/api/v1/projects/{project}");
    let p: Value = app.get(&path, &alice.access).await.json().await.unwrap();
    assert_eq!(p["analyzer"], Value::Null, "the instance's default until chosen");

    let patch = |token: &str, body: Value| app.request(Method::PATCH, &path, Some(token)).json(&body).send();
    assert_eq!(patch(&bob.access, json!({"analyzer": "model"})).await.unwrap().status(), StatusCode::FORBIDDEN);
    let (status, body) = problem(patch(&alice.access, json!({"analyzer": "gpt-9"})).await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("unprocessable")));
    assert!(body["detail"].as_str().unwrap().contains("model, offline"), "{body}");
    assert!(patch(&alice.access, json!({"colour": "red"})).await.unwrap().status().is_client_error());

    let chosen: Value = patch(&alice.access, json!({"analyzer": "model"})).await.unwrap().json().await.unwrap();
    assert_eq!((chosen["analyzer"].as_str(), chosen["role"].as_str()), (Some("model"), Some("owner")));
    let a = app.upload(&bob.access, &project, "a.txt", sample_book("one")).await;
    let d = finished(&app, &bob.access, &a).await;
    assert_eq!((d["status"].as_str(), d["analyzer"].as_str()), (Some("ready"), Some("model")), "{d}");
    assert_eq!(d["results"]["enrich"]["analyzer"], "fake:fake-model");
    let calls = fake.chat_calls();
    assert!(calls > 0);

    // A rename leaves the choice alone (a field left out is unchanged); null goes back to the default.
    let renamed: Value = patch(&alice.access, json!({"name": "Library"})).await.unwrap().json().await.unwrap();
    assert_eq!((renamed["name"].as_str(), renamed["analyzer"].as_str()), (Some("Library"), Some("model")));
    let reset: Value = patch(&alice.access, json!({"analyzer": null})).await.unwrap().json().await.unwrap();
    assert_eq!(reset["analyzer"], Value::Null);
    let b = app.upload(&bob.access, &project, "b.txt", sample_book("two")).await;
    let d = finished(&app, &bob.access, &b).await;
    assert_eq!((d["status"].as_str(), d["results"]["enrich"]["analyzer"].as_str()), (Some("ready"), Some("offline")));
    assert_eq!(fake.chat_calls(), calls, "the default analyzer asked the model nothing");
    app.stop().await;
}

#[tokio::test]
async fn project_analyzer_sqlite() {
    project_analyzer(Backend::Sqlite).await;
}

#[tokio::test]
async fn project_analyzer_postgres() {
    project_analyzer(Backend::Postgres).await;
}
