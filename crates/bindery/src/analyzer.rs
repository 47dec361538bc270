//! Which analyzer the `enrich` stage of this instance uses: the built-in offline one (the default), or a language
//! model behind an OpenAI-compatible API (OpenAI, Gemini's OpenAI endpoint, Ollama, vLLM, llama.cpp's server).
//!
//! Every setting resolves as the others do: flag, then `BINDERY_*` variable, then the config file (keys named as the
//! flags), then the default. The API key itself is never a flag nor a file key: `--llm-api-key-env` names the
//! environment variable that holds it (`OPENAI_API_KEY` by default), so it stays out of shell history, process
//! lists and config files.

use anyhow::{bail, Context, Result};
use bindery_analyze::{Analyzer, Offline};
use bindery_enrich::{BatchOptions, LlmAnalyzer, LlmOptions};
use bindery_llm::{Client, Price, ProviderOptions};
use clap::Args;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// The analyzer's settings, as flags (global: every command that runs a worker uses them).
#[derive(Args, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AnalyzerArgs {
    /// `offline` (built in, the default) or `openai-compatible`.
    #[arg(long, env = "BINDERY_ANALYZER", global = true)]
    pub analyzer: Option<String>,
    /// The provider's API base URL, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1 (Ollama).
    #[arg(long, env = "BINDERY_LLM_BASE_URL", global = true)]
    pub llm_base_url: Option<String>,
    /// The model name the provider knows, e.g. gpt-4o-mini.
    #[arg(long, env = "BINDERY_LLM_MODEL", global = true)]
    pub llm_model: Option<String>,
    /// The environment variable holding the API key [default: OPENAI_API_KEY]; unset means no key (local servers).
    #[arg(long, env = "BINDERY_LLM_API_KEY_ENV", global = true)]
    pub llm_api_key_env: Option<String>,
    /// Requests in flight to the provider, per process [default: 8].
    #[arg(long, env = "BINDERY_LLM_CONCURRENCY", global = true)]
    pub llm_concurrency: Option<usize>,
    /// Tokens per minute this process may use (prompt and answer, estimated before each request) [default: no
    /// limit].
    #[arg(long, env = "BINDERY_LLM_TOKENS_PER_MINUTE", global = true)]
    pub llm_tokens_per_minute: Option<u32>,
    /// Seconds one request may take [default: 120].
    #[arg(long, env = "BINDERY_LLM_TIMEOUT_SECS", global = true)]
    pub llm_timeout_secs: Option<u64>,
    /// US dollars per million prompt tokens, for the cost estimates recorded per document.
    #[arg(long, env = "BINDERY_LLM_PRICE_INPUT", global = true)]
    pub llm_price_input: Option<f64>,
    /// US dollars per million completion tokens.
    #[arg(long, env = "BINDERY_LLM_PRICE_OUTPUT", global = true)]
    pub llm_price_output: Option<f64>,
    /// Allow the provider's Batch API for documents whose deadline leaves time for it (see docs/enrichment.md).
    #[arg(long, env = "BINDERY_LLM_BATCH", global = true)]
    #[serde(default)]
    pub llm_batch: bool,
}

impl AnalyzerArgs {
    /// Flags and variables first, then the file's values.
    pub fn or(self, file: AnalyzerArgs) -> AnalyzerArgs {
        AnalyzerArgs {
            analyzer: self.analyzer.or(file.analyzer),
            llm_base_url: self.llm_base_url.or(file.llm_base_url),
            llm_model: self.llm_model.or(file.llm_model),
            llm_api_key_env: self.llm_api_key_env.or(file.llm_api_key_env),
            llm_concurrency: self.llm_concurrency.or(file.llm_concurrency),
            llm_tokens_per_minute: self.llm_tokens_per_minute.or(file.llm_tokens_per_minute),
            llm_timeout_secs: self.llm_timeout_secs.or(file.llm_timeout_secs),
            llm_price_input: self.llm_price_input.or(file.llm_price_input),
            llm_price_output: self.llm_price_output.or(file.llm_price_output),
            llm_batch: self.llm_batch || file.llm_batch,
        }
    }

    /// The analyzer these settings describe. `env` reads the API key's variable (a parameter so tests need not
    /// touch the process environment).
    pub fn build(&self, env: impl Fn(&str) -> Option<String>) -> Result<Arc<dyn Analyzer>> {
        match self.analyzer.as_deref().unwrap_or("offline") {
            "offline" => Ok(Arc::new(Offline)),
            "openai-compatible" => {
                let base = self.llm_base_url.clone().context("--analyzer openai-compatible needs --llm-base-url")?;
                let model = self.llm_model.clone().context("--analyzer openai-compatible needs --llm-model")?;
                let mut o = ProviderOptions::new("openai-compatible", base, model);
                let key_var = self.llm_api_key_env.as_deref().unwrap_or("OPENAI_API_KEY");
                o.api_key = env(key_var).filter(|k| !k.is_empty());
                if let Some(n) = self.llm_concurrency {
                    o.concurrency = n.max(1);
                }
                o.tokens_per_minute = self.llm_tokens_per_minute;
                if let Some(s) = self.llm_timeout_secs {
                    o.request_timeout = Duration::from_secs(s.max(1));
                }
                o.price = match (self.llm_price_input, self.llm_price_output) {
                    (Some(i), Some(out)) => Some(Price::new(i, out)),
                    (None, None) => None,
                    _ => bail!("give both --llm-price-input and --llm-price-output, or neither"),
                };
                let client = Client::new(o).context("configuring the language-model provider")?;
                let options = LlmOptions { batch: self.llm_batch.then(BatchOptions::default), ..LlmOptions::default() };
                Ok(Arc::new(LlmAnalyzer::new(client, options)))
            }
            other => bail!("--analyzer must be offline or openai-compatible, not {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_is_the_default_and_unknown_names_are_refused() {
        let a = AnalyzerArgs::default().build(|_| None).unwrap();
        assert_eq!(a.name(), "offline");
        let e = AnalyzerArgs { analyzer: Some("gpt".into()), ..Default::default() }.build(|_| None).err().unwrap();
        assert!(e.to_string().contains("offline or openai-compatible"), "{e}");
    }

    #[test]
    fn a_provider_needs_its_url_and_model_and_reads_its_key_from_the_named_variable() {
        let mut a = AnalyzerArgs { analyzer: Some("openai-compatible".into()), ..Default::default() };
        assert!(a.build(|_| None).err().unwrap().to_string().contains("--llm-base-url"));
        a.llm_base_url = Some("http://127.0.0.1:9/v1".into());
        assert!(a.build(|_| None).err().unwrap().to_string().contains("--llm-model"));
        a.llm_model = Some("m".into());
        a.llm_api_key_env = Some("MY_KEY".into());
        let built = a.build(|v| (v == "MY_KEY").then(|| "sk-test".to_string())).unwrap();
        assert_eq!(built.name(), "openai-compatible:m");
        a.llm_price_input = Some(1.0);
        assert!(a.build(|_| None).err().unwrap().to_string().contains("both"));
    }

    #[test]
    fn flags_win_over_the_file() {
        let flags = AnalyzerArgs { llm_model: Some("flag".into()), ..Default::default() };
        let file: AnalyzerArgs = toml::from_str(
            "analyzer = \"openai-compatible\"\nllm-model = \"file\"\nllm-concurrency = 3\nllm-batch = true",
        )
        .unwrap();
        let merged = flags.or(file);
        assert_eq!(merged.analyzer.as_deref(), Some("openai-compatible"));
        assert_eq!(merged.llm_model.as_deref(), Some("flag"));
        assert_eq!(merged.llm_concurrency, Some(3));
        assert!(merged.llm_batch);
    }
}
