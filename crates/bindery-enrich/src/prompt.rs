//! The requests: prompts, their version, and the cache key of each.
//!
//! [`PROMPT_VERSION`] names the prompts and schemas together. Change it whenever either changes, so that cached
//! answers to the old questions are not served for the new ones.

use crate::chunk::Chunk;
use crate::extraction::{book_schema, extraction_schema};
use bindery_core::book::Book;
use bindery_llm::{ChatRequest, Message, ResponseFormat};
use sha2::{Digest, Sha256};

pub const PROMPT_VERSION: &str = "bindery-enrich-1";

const CHAPTER_SYSTEM: &str = "You read one part of a chapter of a book and extract structured facts for readers and \
illustrators. Paragraphs are numbered [n]; refer to them by those numbers. Use only what the text says: name the \
characters who appear or are mentioned (their fullest name, the other names the text uses for them, and traits the \
text shows), the named places, the scenes (runs of paragraphs with one setting and cast, each with its setting, \
atmosphere and a one-sentence summary), and the lines of dialogue with their speaker when the text says who speaks \
(quote the words exactly). Sentiment is -1 (sad, hostile) to 1 (happy, friendly). Write the summary and the other \
free text in the book's language. Answer with JSON only, following the schema.";

const BOOK_SYSTEM: &str = "You are given the summaries of a book's chapters, in order. Write a summary of the whole \
book in three to five sentences, in the book's language, and up to fifteen keywords. Answer with JSON only, \
following the schema.";

/// What one request is for; the key of its cached answer.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub request: ChatRequest,
    /// Hex SHA-256 of everything that decides the answer: model, prompt version, and the messages.
    pub key: String,
}

/// Settings that shape requests.
#[derive(Clone, Debug)]
pub struct RequestShape {
    pub model: String,
    pub max_output_tokens: u32,
    pub temperature: f32,
    /// Whether to send `response_format: json_schema` (OpenAI, vLLM, Ollama, llama.cpp accept it; some gateways do
    /// not, and then the schema travels in the prompt only).
    pub structured_output: bool,
}

fn msg(role: &str, content: impl Into<String>) -> Message {
    Message { role: role.to_owned(), content: content.into() }
}

fn header(book: &Book) -> String {
    let mut h = String::new();
    if let Some(t) = &book.title {
        h.push_str(&format!("Book: {t}\n"));
    }
    if let Some(a) = &book.author {
        h.push_str(&format!("Author: {a}\n"));
    }
    h.push_str(&format!("Language: {}\n", book.language));
    h
}

/// The request for one chunk of a chapter.
pub fn chapter_request(shape: &RequestShape, book: &Book, chunk: &Chunk) -> Prepared {
    let mut text = header(book);
    text.push_str(&format!(
        "Chapter {}: {} (paragraphs {} to {})\n\n",
        chunk.chapter, chunk.chapter_title, chunk.first_paragraph, chunk.last_paragraph
    ));
    for (i, p) in chunk.paragraphs.iter().enumerate() {
        text.push_str(&format!("[{}] {}\n", chunk.first_paragraph as usize + i, p));
    }
    prepare(shape, CHAPTER_SYSTEM, text, "chapter", extraction_schema())
}

/// The request for the whole-book summary, from the chapters' summaries.
pub fn book_request(shape: &RequestShape, book: &Book, chapter_summaries: &[(u32, String)]) -> Prepared {
    let mut text = header(book);
    text.push('\n');
    for (index, summary) in chapter_summaries {
        text.push_str(&format!("Chapter {index}: {summary}\n"));
    }
    prepare(shape, BOOK_SYSTEM, text, "book", book_schema())
}

fn prepare(shape: &RequestShape, system: &str, user: String, name: &str, schema: serde_json::Value) -> Prepared {
    let system =
        if shape.structured_output { system.to_owned() } else { format!("{system}\nThe JSON Schema:\n{schema}") };
    let request = ChatRequest {
        model: shape.model.clone(),
        messages: vec![msg("system", system), msg("user", user)],
        temperature: Some(shape.temperature),
        max_tokens: Some(shape.max_output_tokens),
        response_format: Some(if shape.structured_output {
            ResponseFormat::JsonSchema { name: name.to_owned(), schema, strict: true }
        } else {
            ResponseFormat::JsonObject
        }),
        ..Default::default()
    };
    let key = cache_key(&request);
    Prepared { request, key }
}

/// The follow-up that asks the model, once, to correct an answer that did not pass [`crate::extraction::accept`].
pub fn repair_request(original: &ChatRequest, answer: &str, problem: &str) -> ChatRequest {
    let mut request = original.clone();
    request.messages.push(msg("assistant", answer.to_owned()));
    request
        .messages
        .push(msg("user", format!("That answer cannot be used: {problem}. Reply again with the corrected JSON only.")));
    request
}

fn cache_key(request: &ChatRequest) -> String {
    let mut h = Sha256::new();
    h.update(PROMPT_VERSION.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(request).expect("requests serialise"));
    hex::encode(h.finalize())
}
