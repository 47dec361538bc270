//! Plain text and Markdown: validation, clean-up and chapter splitting.
//!
//! The book pipeline's `extract` and `structure` stages call these for text
//! uploads, and `structure` reuses the heading rules on text extracted from
//! PDF pages and OCR, so every format finds chapters the same way.

mod chapters;
mod lang;

pub use chapters::{split_chapters, Chapter};
pub use lang::detect_language;

use crate::stage::StageError;
use bindery_core::Book;

pub use bindery_core::book::count_words;

/// Text uploads larger than this are refused: a book is a few MiB.
pub const MAX_TEXT_BYTES: u64 = 64 * 1024 * 1024;

/// A text upload after validation and clean-up.
#[derive(Clone, Debug, PartialEq)]
pub struct Cleaned {
    pub body: String,
    pub title: Option<String>,
    pub author: Option<String>,
    pub language: String,
}

/// Validates UTF-8, normalises line ends, drops a BOM and a Project
/// Gutenberg header and licence, and finds title, author and language.
pub fn clean(raw: &[u8]) -> Result<Cleaned, StageError> {
    let text = decode(raw)?;
    let (title, author) = gutenberg_metadata(&text);
    let body = strip_gutenberg(&text);
    if body.trim().is_empty() {
        return Err(StageError::Permanent("the file contains no text".into()));
    }
    Ok(Cleaned { language: detect_language(body).to_owned(), body: body.to_owned(), title, author })
}

/// Splits cleaned text into a [`Book`]: chapters by heading shape, and
/// paragraphs at blank lines with their line breaks unwrapped.
pub fn book_from_text(cleaned: &Cleaned, markdown: bool) -> Book {
    let text = &cleaned.body;
    let chapters = split_chapters(text, markdown);
    let first = chapters.first().map(|c| c.start).unwrap_or(text.len());
    // The front matter ends at the first chapter's heading line.
    let front_end = text[..first].trim_end().rfind('\n').unwrap_or(0);
    Book {
        title: cleaned.title.clone(),
        author: cleaned.author.clone(),
        language: cleaned.language.clone(),
        pages: None,
        front_matter: paragraphs(&text[..front_end]),
        chapters: chapters
            .iter()
            .map(|c| bindery_core::Chapter {
                index: c.index as u32,
                title: c.title.clone(),
                paragraphs: paragraphs(&text[c.start..c.end]),
                first_page: None,
            })
            .collect(),
    }
}

/// Paragraphs separated by blank lines, each unwrapped onto one line.
pub fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(line);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
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
    fn builds_a_book_with_front_matter_and_paragraphs() {
        let body = "word ".repeat(30);
        let raw = format!("Title: Emma\n*** START OF X ***\nA dedication.\n\nCHAPTER I. One\n\n{body}\nwrapped\n\nSecond.\n*** END OF X ***\n");
        let cleaned = clean(raw.as_bytes()).unwrap();
        let book = book_from_text(&cleaned, false);
        assert_eq!(book.title.as_deref(), Some("Emma"));
        assert_eq!(book.front_matter, ["A dedication."]);
        assert_eq!(book.chapters.len(), 1);
        assert_eq!(book.chapters[0].title, "CHAPTER I. One");
        assert_eq!(book.chapters[0].paragraphs, [format!("{}wrapped", body), "Second.".to_owned()]);
    }
}
