//! `--analyzer openai-compatible` on the real binary, against the fake OpenAI server: the main job enriches through
//! the model with the key read from the variable `--llm-api-key-env` names, and a wrong key fails the document with
//! the provider's reason instead of losing it; a named analyzer of the config file can be the default.

mod harness;

use bindery_enrich::testing::plain_model;
use bindery_llm::fake::FakeOpenAi;
use harness::Cli;
use std::sync::Arc;

fn args<'a>(fake: &'a str, book: &'a str) -> Vec<&'a str> {
    vec![
        "process",
        "--json",
        "--analyzer",
        "openai-compatible",
        "--llm-base-url",
        fake,
        "--llm-model",
        "fake-model",
        "--llm-api-key-env",
        "BINDERY_TEST_LLM_KEY",
        book,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_enriches_through_the_configured_model() {
    let cli = Cli::sqlite().await;
    let fake = FakeOpenAi::start_with_key(Arc::new(plain_model), "sk-test-123").await;
    let book = cli.books(1).remove(0);
    let base = fake.base_url();
    let out =
        cli.cmd(&args(&base, book.to_str().unwrap())).env("BINDERY_TEST_LLM_KEY", "sk-test-123").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = harness::stdout_json(&out).remove(0);
    let id = report["id"].as_str().unwrap();
    let doc = cli.store().await.document(id).await.unwrap().unwrap();
    assert_eq!(doc.results["enrich"]["analyzer"], "openai-compatible:fake-model");
    let model = &doc.results["enrich"]["model"];
    assert_eq!(model["mode"], "sync");
    assert_eq!(model["requests"].as_u64(), Some(fake.chat_calls() as u64));
    assert!(fake.chat_calls() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_fails_the_document_with_the_reason() {
    let cli = Cli::sqlite().await;
    let fake = FakeOpenAi::start_with_key(Arc::new(plain_model), "sk-right").await;
    let book = cli.books(1).remove(0);
    let base = fake.base_url();
    let out = cli.cmd(&args(&base, book.to_str().unwrap())).env("BINDERY_TEST_LLM_KEY", "sk-wrong").output().unwrap();
    assert!(!out.status.success(), "a failed document is a failed run");
    let report = harness::stdout_json(&out).remove(0);
    let doc = cli.store().await.document(report["id"].as_str().unwrap()).await.unwrap().unwrap();
    let error = doc.error.unwrap_or_default();
    assert!(error.contains("401") && error.contains("Incorrect API key"), "{error}");
    assert!(!error.contains("sk-wrong"), "the key is never repeated: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_configuration_is_refused_before_anything_runs() {
    let cli = Cli::sqlite().await;
    let book = cli.books(1).remove(0);
    let out = cli.run(&["process", "--analyzer", "openai-compatible", book.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--llm-base-url"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A named analyzer of the config file's `[enrich.analyzers]`, made the instance's default by name, is the one the
/// main job uses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_analyzer_of_the_config_file_can_be_the_default() {
    let cli = Cli::sqlite().await;
    let fake = FakeOpenAi::start_with_key(Arc::new(plain_model), "sk-test-456").await;
    let book = cli.books(1).remove(0);
    let config = book.with_file_name("bindery.toml");
    let text = format!(
        "[enrich]\nanalyzer = \"model\"\n\n[enrich.analyzers.model]\nanalyzer = \"openai-compatible\"\n\
         llm-base-url = \"{}\"\nllm-model = \"named-model\"\nllm-api-key-env = \"BINDERY_TEST_LLM_KEY\"\n",
        fake.base_url()
    );
    std::fs::write(&config, text).unwrap();
    let out = cli
        .cmd(&["--config", config.to_str().unwrap(), "process", "--json", book.to_str().unwrap()])
        .env("BINDERY_TEST_LLM_KEY", "sk-test-456")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = harness::stdout_json(&out).remove(0);
    let doc = cli.store().await.document(report["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(doc.results["enrich"]["analyzer"], "openai-compatible:named-model");
    assert!(fake.chat_calls() >= 2);
}
