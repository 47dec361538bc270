//! The structured book: what the `structure` stage produces from any input
//! format and what every later stage (enrich, dictionary, narrate, index,
//! export) reads. One shape for PDF, EPUB, scanned pages and plain text, so
//! later stages never care where a book came from.

use serde::{Deserialize, Serialize};

/// A book split into chapters and paragraphs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Book {
    pub title: Option<String>,
    pub author: Option<String>,
    /// ISO 639-1 code ("en", "fr"), or "und" when undetermined.
    pub language: String,
    /// Page count for paged sources (PDF, scans), `None` for text and EPUB.
    pub pages: Option<u32>,
    /// Paragraphs before the first chapter: title page, dedication, contents.
    #[serde(default)]
    pub front_matter: Vec<String>,
    pub chapters: Vec<Chapter>,
}

/// One chapter: a title and its paragraphs, in reading order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Chapter {
    /// 1-based position in the book.
    pub index: u32,
    pub title: String,
    pub paragraphs: Vec<String>,
    /// 1-based page where the chapter starts, for paged sources.
    #[serde(default)]
    pub first_page: Option<u32>,
}

impl Chapter {
    /// Words in the chapter's paragraphs (see [`count_words`]).
    pub fn words(&self) -> usize {
        self.paragraphs.iter().map(|p| count_words(p)).sum()
    }

    /// The chapter's text, paragraphs separated by blank lines.
    pub fn text(&self) -> String {
        self.paragraphs.join("\n\n")
    }
}

impl Book {
    pub fn words(&self) -> usize {
        self.chapters.iter().map(Chapter::words).sum()
    }
}

/// A word is a whitespace-separated token with at least one letter or digit.
pub fn count_words(text: &str) -> usize {
    text.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_per_chapter_and_book() {
        let c = Chapter {
            index: 1,
            title: "I".into(),
            paragraphs: vec!["Hello, world —".into(), "it’s 1872 !".into()],
            first_page: None,
        };
        assert_eq!(c.words(), 4);
        assert_eq!(c.text(), "Hello, world —\n\nit’s 1872 !");
        let b = Book { chapters: vec![c.clone(), c], language: "en".into(), ..Book::default() };
        assert_eq!(b.words(), 8);
    }
}
