//! A faithful, resilient client of OpenAI-compatible language-model APIs:
//! chat completions, files and the Batch API, as served by OpenAI, Gemini's
//! OpenAI endpoint, Ollama, vLLM and llama.cpp's server.
//!
//! The crate knows nothing of books, stages or the store: it sends what it
//! is given and returns what the provider answered, or an [`LlmError`] that
//! says whether trying again can help. Around every call it keeps the
//! provider's rules and its own: a timeout on every request, retries with
//! backoff for what the protocol calls transient (and never for what it
//! calls permanent), a circuit breaker, a cap on requests in flight and a
//! tokens-per-minute budget.
//!
//! ```no_run
//! # async fn example() -> Result<(), bindery_llm::LlmError> {
//! use bindery_llm::{ChatRequest, Client, Message, ProviderOptions, ResponseFormat};
//!
//! let options = ProviderOptions::new("openai", "https://api.openai.com/v1", "gpt-4o-mini").with_api_key("sk-…");
//! let client = Client::new(options)?;
//! let mut request = ChatRequest::new("gpt-4o-mini", vec![Message::user("Name three rivers of France.")]);
//! request.response_format = Some(ResponseFormat::JsonObject);
//! let answer = client.chat(&request).await?;
//! println!("{}", answer.content().unwrap_or_default());
//! # Ok(())
//! # }
//! ```
//!
//! With the cargo feature `fake`, [`fake::FakeOpenAi`] serves the same
//! protocol from memory on a loopback port, with faults to inject, for the
//! tests of this crate and of the crates built on it.
//!
//! Metrics (through the `metrics` facade):
//! `bindery_llm_requests_total{provider,outcome}` (one per HTTP request, and
//! `outcome="breaker_open"` for a call refused by the breaker),
//! `bindery_llm_retries_total{provider,op}`,
//! `bindery_llm_tokens_total{provider,kind=prompt|completion}`,
//! `bindery_llm_request_duration_seconds{provider,op}` and the gauge
//! `bindery_llm_breaker_state{provider}` (0 closed, 1 half-open, 2 open).

pub mod breaker;
pub mod client;
pub mod error;
pub mod jsonl;
pub mod limit;
pub mod provider;
mod retry;
pub mod wire;

#[cfg(feature = "fake")]
pub mod fake;

pub use breaker::BreakerState;
pub use client::{parse_jsonl, to_jsonl, Client};
pub use error::LlmError;
pub use limit::estimate_tokens;
pub use provider::{BreakerOptions, Price, ProviderOptions};
pub use wire::{
    Batch, BatchError, BatchErrors, BatchLineError, BatchLineResponse, BatchList, BatchRequestLine, BatchResultLine,
    BatchStatus, ChatRequest, ChatResponse, Choice, FileDeleted, FileObject, Message, RequestCounts, ResponseFormat,
    Usage, CHAT_COMPLETIONS_ENDPOINT,
};
