//! Which analyzers the `enrich` stage of this instance offers: its default (the built-in offline one unless set), a
//! language model behind an OpenAI-compatible API (OpenAI, Gemini's OpenAI endpoint, Ollama, vLLM, llama.cpp's
//! server), and named analyzers, one `[enrich.analyzers.<name>]` table of the config file each, among which
//! projects choose (`PATCH /api/v1/projects/{p}` with `{"analyzer": "<name>"}`). `offline` is always offered.
//!
//! Every setting resolves as the others do: flag, then `BINDERY_*` variable, then the config file (keys named as the
//! flags), then the default. The API key itself is never a flag nor a file key: `--llm-api-key-env` names the
//! environment variable that holds it (`OPENAI_API_KEY` by default), so it stays out of shell history, process
//! lists and config files.

use anyhow::{bail, Context, Result};
use bindery_analyze::{Analyzer, Analyzers, Offline};
use bindery_enrich::{BatchOptions, LlmAnalyzer, LlmOptions};
use bindery_llm::{Client, Price, ProviderOptions};
use clap::Args;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The analyzer's settings, as flags (global: every command that runs a worker uses them).
#[derive(Args, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AnalyzerArgs {
    /// `offline` (built in, the default), `openai-compatible`, or the name of an analyzer of the config file's
    /// `[enrich.analyzers]`.
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
    /// Named analyzers projects may choose: the config file's `[enrich.analyzers.<name>]` tables, with the keys
    /// above (no flag or variable sets them).
    #[arg(skip)]
    #[serde(default)]
    pub analyzers: BTreeMap<String, AnalyzerArgs>,
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
            analyzers: file.analyzers,
        }
    }

    /// Every analyzer these settings describe: the default and the named ones. The default may be a named one
    /// (`analyzer = "<name>"`), and is then that very analyzer, sharing its client, limits and circuit breaker.
    pub fn build_all(&self, env: impl Fn(&str) -> Option<String>) -> Result<Analyzers> {
        let mut named = BTreeMap::new();
        for (name, args) in &self.analyzers {
            if !args.analyzers.is_empty() {
                bail!("[enrich.analyzers.{name}] cannot hold analyzers of its own");
            }
            let built = args.build(&env).with_context(|| format!("analyzer {name:?} of [enrich.analyzers]"))?;
            named.insert(name.clone(), built);
        }
        let default = match self.analyzer.as_deref().and_then(|a| named.get(a)) {
            Some(chosen) => {
                if self.llm_base_url.is_some() || self.llm_model.is_some() {
                    bail!(
                        "the default analyzer is {:?} of [enrich.analyzers]: set its provider there, not with                          --llm-base-url or --llm-model",
                        self.analyzer.as_deref().unwrap_or_default()
                    );
                }
                chosen.clone()
            }
            None => self.build(&env)?,
        };
        named
            .into_iter()
            .try_fold(Analyzers::new(default), |all, (name, a)| all.with(&name, a))
            .map_err(anyhow::Error::msg)
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
            other => bail!(
                "--analyzer must be offline, openai-compatible or the name of an [enrich.analyzers] table, not {other:?}"
            ),
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
        assert!(e.to_string().contains("offline, openai-compatible"), "{e}");
    }

    #[test]
    fn named_analyzers_come_from_the_file_and_the_default_may_be_one_of_them() {
        let file: AnalyzerArgs = toml::from_str(
            "analyzer = \"big\"\n\
             [analyzers.big]\nanalyzer = \"openai-compatible\"\nllm-base-url = \"http://127.0.0.1:9/v1\"\nllm-model = \"large\"\n\
             [analyzers.small]\nanalyzer = \"openai-compatible\"\nllm-base-url = \"http://127.0.0.1:9/v1\"\nllm-model = \"mini\"\nllm-batch = true\n",
        )
        .unwrap();
        let all = AnalyzerArgs::default().or(file.clone()).build_all(|_| None).unwrap();
        assert_eq!(all.names(), ["big", "offline", "small"]);
        assert_eq!(all.get(None).unwrap().name(), "openai-compatible:large");
        assert!(Arc::ptr_eq(all.get(None).unwrap(), all.get(Some("big")).unwrap()), "one client, one breaker");
        assert_eq!(all.get(Some("small")).unwrap().name(), "openai-compatible:mini");
        assert_eq!(all.providers().len(), 2);

        // A flag naming the provider beside a named default is a contradiction, said as such.
        let flags = AnalyzerArgs { llm_model: Some("other".into()), ..Default::default() };
        assert!(flags.or(file.clone()).build_all(|_| None).unwrap_err().to_string().contains("set its provider there"));

        // The default stays offline when `analyzer` is not set; named ones are still offered.
        let mut only_named = file.clone();
        only_named.analyzer = None;
        let all = only_named.build_all(|_| None).unwrap();
        assert_eq!(all.get(None).unwrap().name(), "offline");
        assert_eq!(all.names().len(), 3);

        let bad: AnalyzerArgs = toml::from_str("[analyzers.offline]\nanalyzer = \"offline\"").unwrap();
        assert!(bad.build_all(|_| None).unwrap_err().to_string().contains("taken"));
        let broken: AnalyzerArgs = toml::from_str("[analyzers.x]\nanalyzer = \"openai-compatible\"").unwrap();
        let e = format!("{:#}", broken.build_all(|_| None).unwrap_err());
        assert!(e.contains("analyzer \"x\"") && e.contains("--llm-base-url"), "{e}");
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
