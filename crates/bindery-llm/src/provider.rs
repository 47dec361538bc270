//! What a [`Client`](crate::Client) needs to know about one provider: where
//! it is, how to authenticate, which model to ask, and how patient and how
//! greedy to be with it.
//!
//! Any server that speaks OpenAI's protocol is a provider: OpenAI itself
//! (`https://api.openai.com/v1`), Gemini's OpenAI endpoint
//! (`https://generativelanguage.googleapis.com/v1beta/openai`), Ollama
//! (`http://localhost:11434/v1`), vLLM and llama.cpp's server. Paths such as
//! `chat/completions` are appended to `base_url`.

use std::fmt;
use std::time::Duration;

use crate::wire::Usage;

/// How one provider is reached and treated. `Debug` never prints the key.
#[derive(Clone)]
pub struct ProviderOptions {
    /// A label for metrics and logs, e.g. `openai`.
    pub name: String,
    /// The API's root, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Sent as `Authorization: Bearer`; `None` for local servers.
    pub api_key: Option<String>,
    /// The model every request of the caller is meant for.
    pub model: String,
    /// The limit of one HTTP request (for downloads: of the wait for the
    /// headers and for each chunk of the body).
    pub request_timeout: Duration,
    /// How many times a retryable failure is tried again.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it, with jitter.
    pub backoff_base: Duration,
    /// No wait between attempts is longer than this, not even one that the
    /// provider asked for with `Retry-After`.
    pub backoff_max: Duration,
    /// At most this many requests in flight at once.
    pub concurrency: usize,
    /// A client-side budget of tokens per minute; a chat call waits until
    /// its estimated tokens fit.
    pub tokens_per_minute: Option<u32>,
    /// When to stop calling a provider that keeps failing.
    pub breaker: BreakerOptions,
    /// What the model costs, for the caller's accounting.
    pub price: Option<Price>,
}

impl ProviderOptions {
    /// Options with the defaults: 120 s per request, 4 retries backing off
    /// from 1 s to at most 60 s, 8 requests in flight, no token budget, a
    /// breaker that opens for 30 s after 5 failed calls, no price.
    pub fn new(name: impl Into<String>, base_url: impl Into<String>, model: impl Into<String>) -> Self {
        ProviderOptions {
            name: name.into(),
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            request_timeout: Duration::from_secs(120),
            max_retries: 4,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            concurrency: 8,
            tokens_per_minute: None,
            breaker: BreakerOptions::default(),
            price: None,
        }
    }

    /// The same options with an API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }
}

impl fmt::Debug for ProviderOptions {
    // Written by hand so that the key can never reach a log line through
    // `{:?}`: only whether there is one is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderOptions")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("concurrency", &self.concurrency)
            .field("tokens_per_minute", &self.tokens_per_minute)
            .field("breaker", &self.breaker)
            .field("price", &self.price)
            .finish()
    }
}

/// The circuit breaker's thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerOptions {
    /// Consecutive failed calls (each after its retries) that open it.
    pub failure_threshold: u32,
    /// How long it stays open before one trial call is let through.
    pub open_for: Duration,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        BreakerOptions { failure_threshold: 5, open_for: Duration::from_secs(30) }
    }
}

/// A model's price in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_mtok_usd: f64,
    pub output_per_mtok_usd: f64,
    /// The factor applied to batch requests (OpenAI's Batch API: 0.5).
    pub batch_discount: f64,
}

impl Price {
    /// A price with the usual batch discount of one half.
    pub fn new(input_per_mtok_usd: f64, output_per_mtok_usd: f64) -> Self {
        Price { input_per_mtok_usd, output_per_mtok_usd, batch_discount: 0.5 }
    }

    /// What `usage` costs, at the batch rate when `batch` is true.
    pub fn cost_usd(&self, usage: &Usage, batch: bool) -> f64 {
        let full = (usage.prompt_tokens as f64 * self.input_per_mtok_usd
            + usage.completion_tokens as f64 * self.output_per_mtok_usd)
            / 1_000_000.0;
        if batch {
            full * self.batch_discount
        } else {
            full
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let options =
            ProviderOptions::new("openai", "https://api.openai.com/v1", "gpt-4o-mini").with_api_key("sk-very-secret");
        let shown = format!("{options:?}");
        assert!(!shown.contains("sk-very-secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn batch_price_is_discounted() {
        let price = Price::new(0.15, 0.60);
        let usage = Usage { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, total_tokens: 2_000_000 };
        assert!((price.cost_usd(&usage, false) - 0.75).abs() < 1e-9);
        assert!((price.cost_usd(&usage, true) - 0.375).abs() < 1e-9);
    }
}
