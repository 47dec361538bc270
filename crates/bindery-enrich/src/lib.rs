//! Enrichment by a language model: the [`LlmAnalyzer`], an [`bindery_analyze::Analyzer`] that asks an
//! OpenAI-compatible provider (through `bindery-llm`) for strict-JSON extraction chapter by chapter and merges the
//! answers into the same `Analysis` the offline analyzer produces.
//!
//! Layout:
//! - `chunk`: the book cut into chapter parts that fit one request;
//! - `prompt`: the requests, their version, and the cache key of each;
//! - `extraction`: the answer's type, its JSON Schema, and the checks an answer must pass;
//! - `names`: grouping the names of one character, and counting names in the text;
//! - `merge`: chunk answers (or offline analysis for chunks the model could not answer) into one analysis;
//! - `batch`: the Batch API path, followed run after run until the document's batch is over;
//! - `analyzer`: the cache, the repair, the fallback, and the whole-book summary.
//!
//! Invariants:
//! - the same text, prompt version and model never cost twice while the cache holds the answer;
//! - every chunk of the book ends up analysed, by the model or offline, and each offline one is in the report with
//!   its reason;
//! - nothing here knows about jobs, the store or HTTP beyond the provider client.

mod analyzer;
mod batch;
mod chunk;
mod extraction;
mod merge;
mod names;
mod prompt;
#[cfg(feature = "testing")]
pub mod testing;

pub use analyzer::{LlmAnalyzer, LlmOptions};
pub use batch::BatchOptions;
pub use extraction::{extraction_schema, TONALITIES};
pub use prompt::PROMPT_VERSION;
