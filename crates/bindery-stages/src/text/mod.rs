//! The text pipeline: plain text and Markdown files.
//!
//! `extract` validates and normalises the upload, `structure` finds the
//! chapters, `count` counts words per chapter. The book stages (PDF, OCR,
//! enrichment …) reuse `structure` and `count` on extracted text.

mod chapters;
mod lang;

pub use chapters::{split_chapters, Chapter};
pub use lang::detect_language;

use crate::stage::{Stage, StageContext, StageError, StageOutput};
use async_trait::async_trait;
use bindery_core::Pipeline;
use serde_json::json;

pub const PIPELINE: &str = "text";

/// Text uploads larger than this are refused: a book is a few MiB.
pub const MAX_TEXT_BYTES: u64 = 64 * 1024 * 1024;

pub fn pipeline() -> Pipeline {
    Pipeline::new(PIPELINE, 1, &[("extract", &[]), ("structure", &["extract"]), ("count", &["structure"])])
        .expect("the text pipeline is a valid DAG")
}

/// Validates UTF-8, normalises line ends, drops a BOM and a Project
/// Gutenberg header and licence, and finds title, author and language.
pub struct Extract;

#[async_trait]
impl Stage for Extract {
    fn name(&self) -> &'static str {
        "extract"
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let raw = ctx.blobs.get_bytes(&ctx.document.blob_key, MAX_TEXT_BYTES).await.map_err(StageError::from_blob)?;
        let text = decode(&raw)?;
        let meta = gutenberg_metadata(&text);
        let body = strip_gutenberg(&text);
        if body.trim().is_empty() {
            return Err(StageError::Permanent("the file contains no text".into()));
        }
        let language = detect_language(body);
        let lines = body.lines().count();
        let artifact = ctx.store("text", "text/plain; charset=utf-8", body.as_bytes().to_vec()).await?;
        Ok(StageOutput {
            summary: json!({"bytes": artifact.bytes, "lines": lines, "language": language,
                            "title": meta.0, "author": meta.1}),
            outputs: vec![artifact],
        })
    }
}

/// Finds the chapters.
pub struct Structure;

#[async_trait]
impl Stage for Structure {
    fn name(&self) -> &'static str {
        "structure"
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let text = read_text(ctx).await?;
        let markdown = ctx.document.media_type == "text/markdown";
        let chapters = split_chapters(&text, markdown);
        let titles: Vec<&str> = chapters.iter().map(|c| c.title.as_str()).collect();
        let summary = json!({"chapters": chapters.len(), "titles": titles});
        let json = serde_json::to_vec(&chapters).expect("chapters serialise");
        let artifact = ctx.store("chapters", "application/json", json).await?;
        Ok(StageOutput { outputs: vec![artifact], summary })
    }
}

/// Counts words, per chapter and in all.
pub struct Count;

#[async_trait]
impl Stage for Count {
    fn name(&self) -> &'static str {
        "count"
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let text = read_text(ctx).await?;
        let raw = ctx.read("chapters", MAX_TEXT_BYTES).await?;
        let chapters: Vec<Chapter> =
            serde_json::from_slice(&raw).map_err(|e| StageError::Permanent(format!("chapters artifact: {e}")))?;
        let per: Vec<_> = chapters
            .iter()
            .map(|c| {
                let body = text.get(c.start..c.end).unwrap_or("");
                json!({"index": c.index, "title": c.title, "words": count_words(body)})
            })
            .collect();
        Ok(StageOutput { outputs: vec![], summary: json!({"words": count_words(&text), "chapters": per}) })
    }
}

async fn read_text(ctx: &StageContext) -> Result<String, StageError> {
    let raw = ctx.read("text", MAX_TEXT_BYTES).await?;
    String::from_utf8(raw.to_vec()).map_err(|e| StageError::Permanent(format!("text artifact is not UTF-8: {e}")))
}

/// A word is a whitespace-separated token with at least one letter or digit.
pub fn count_words(text: &str) -> usize {
    text.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric)).count()
}

fn decode(raw: &[u8]) -> Result<String, StageError> {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    let text = std::str::from_utf8(raw).map_err(|e| {
        StageError::Permanent(format!("the file is not valid UTF-8 (first bad byte at offset {})", e.valid_up_to()))
    })?;
    if text.contains('\0') {
        return Err(StageError::Permanent("the file contains NUL bytes: it is binary, not text".into()));
    }
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Title and author from a Project Gutenberg header, when present.
fn gutenberg_metadata(text: &str) -> (Option<String>, Option<String>) {
    let head = text.lines().take(60);
    let mut title = None;
    let mut author = None;
    for line in head {
        if let Some(t) = line.strip_prefix("Title:") {
            title.get_or_insert_with(|| t.trim().to_owned());
        } else if let Some(a) = line.strip_prefix("Author:") {
            author.get_or_insert_with(|| a.trim().to_owned());
        }
    }
    (title, author)
}

/// The text between Project Gutenberg's START and END markers, or all of it.
fn strip_gutenberg(text: &str) -> &str {
    let start = text.find("*** START OF").and_then(|i| text[i..].find('\n').map(|j| i + j + 1)).unwrap_or(0);
    let end = text[start..].find("*** END OF").map(|i| start + i).unwrap_or(text.len());
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_refuses_bad_bytes() {
        assert_eq!(decode(b"\xEF\xBB\xBFa\r\nb\rc").unwrap(), "a\nb\nc");
        let err = decode(b"abc\xff\xfe").unwrap_err();
        assert_eq!(err, StageError::Permanent("the file is not valid UTF-8 (first bad byte at offset 3)".into()));
        assert!(decode(b"a\0b").is_err());
    }

    #[test]
    fn strips_a_gutenberg_wrapper() {
        let t = "Title: Emma\nAuthor: Jane Austen\n*** START OF THE BOOK ***\nBody.\n*** END OF THE BOOK ***\nLicence";
        assert_eq!(strip_gutenberg(t), "Body.\n");
        assert_eq!(gutenberg_metadata(t), (Some("Emma".into()), Some("Jane Austen".into())));
        assert_eq!(strip_gutenberg("plain"), "plain");
    }

    #[test]
    fn counts_words() {
        assert_eq!(count_words("Hello, world — it’s 1872 !"), 4);
    }
}
