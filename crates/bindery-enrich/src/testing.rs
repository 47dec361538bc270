//! Test helpers for crates that run the language-model analyzer against `bindery_llm::fake::FakeOpenAi` (cargo
//! feature `testing`): a model that answers every request validly, and an answer cache in memory.

use async_trait::async_trait;
use bindery_analyze::{AnalyzeError, AnswerCache};
use bindery_llm::fake::FakeReply;
use bindery_llm::{ChatRequest, ResponseFormat};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;

/// The whole-book summary [`plain_model`] gives.
pub const BOOK_SUMMARY: &str = "A book in brief.";

/// The numbered paragraphs (`[n] text`) of a chapter request's first user message.
pub fn paragraph_numbers(request: &ChatRequest) -> Vec<u32> {
    let user = request.messages.iter().find(|m| m.role == "user").map(|m| m.content.as_str()).unwrap_or_default();
    user.lines().filter_map(|l| l.strip_prefix('[')?.split_once(']')?.0.parse().ok()).collect()
}

/// Whether a request asks for the whole-book summary (its schema is named "book").
pub fn is_book_request(request: &ChatRequest) -> bool {
    matches!(&request.response_format, Some(ResponseFormat::JsonSchema { name, .. }) if name == "book")
}

/// A model that answers every request validly and says little: per chunk, a summary naming its paragraphs and one
/// scene over them (in "a room", "quiet"); for the book, [`BOOK_SUMMARY`].
pub fn plain_model(request: &ChatRequest) -> FakeReply {
    if is_book_request(request) {
        return FakeReply::Content(json!({"summary": BOOK_SUMMARY, "keywords": ["book"]}).to_string());
    }
    let numbers = paragraph_numbers(request);
    let (first, last) = (numbers.first().copied().unwrap_or(0), numbers.last().copied().unwrap_or(0));
    FakeReply::Content(
        json!({"summary": format!("Paragraphs {first} to {last}."), "keywords": ["book"], "sentiment": 0.1,
               "tonality": "neutral", "characters": [], "places": [],
               "scenes": [{"first_paragraph": first, "last_paragraph": last, "setting": "a room",
                           "atmosphere": "quiet", "characters": [], "summary": "Nothing happens."}],
               "dialogue": []})
        .to_string(),
    )
}

/// An [`AnswerCache`] in memory.
#[derive(Default)]
pub struct MemoryCache(pub Mutex<HashMap<String, Vec<u8>>>);

#[async_trait]
impl AnswerCache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, AnalyzeError> {
        Ok(self.0.lock().expect("cache lock").get(key).cloned())
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), AnalyzeError> {
        self.0.lock().expect("cache lock").insert(key.to_owned(), value);
        Ok(())
    }
}
