//! Shared helpers for the integration tests: locating the corpus and WordNet, and a small Project Gutenberg
//! splitter that turns a corpus text into a `Book` the way the structure stage would.

#![allow(dead_code)]

use std::path::PathBuf;

use bindery_core::book::{Book, Chapter};
use bindery_dictionary::WordNet;

pub fn corpus_book(name: &str) -> Option<PathBuf> {
    bindery_testkit::corpus(&format!("books/{name}"))
}

pub fn wordnet() -> Option<WordNet> {
    match WordNet::open_default() {
        Ok(wn) => Some(wn),
        Err(e) => {
            bindery_testkit::missing(format_args!("WordNet is absent (install wordnet-base): {e}"));
            None
        }
    }
}

/// Splits a Gutenberg text into chapters. `is_heading` recognises the paragraph that opens a chapter; for
/// books whose heading is a bare Roman numeral, an all-capitals paragraph right after it is the chapter title.
pub fn split_book(path: &PathBuf, language: &str, is_heading: fn(&str) -> bool) -> Book {
    let raw = std::fs::read_to_string(path).expect("readable corpus file");
    let raw = raw.trim_start_matches('\u{feff}').replace("\r\n", "\n");
    let start = raw.find("*** START OF").and_then(|i| raw[i..].find('\n').map(|j| i + j)).unwrap_or(0);
    let end = raw.find("*** END OF").unwrap_or(raw.len());
    let paragraphs = raw[start..end]
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty());
    let mut book = Book { language: language.into(), ..Book::default() };
    for p in paragraphs {
        if is_heading(&p) {
            let index = book.chapters.len() as u32 + 1;
            book.chapters.push(Chapter { index, title: p, paragraphs: Vec::new(), first_page: None });
            continue;
        }
        match book.chapters.last_mut() {
            None => book.front_matter.push(p),
            Some(c) if c.paragraphs.is_empty() && !p.chars().any(char::is_lowercase) && !c.title.contains(' ') => {
                c.title = format!("{} {p}", c.title);
            }
            Some(c) => c.paragraphs.push(p),
        }
    }
    book
}

pub fn is_roman(p: &str) -> bool {
    !p.is_empty() && p.chars().all(|c| matches!(c, 'I' | 'V' | 'X' | 'L' | 'C'))
}

/// Case-insensitive count of whole words in `forms`, using a tokenisation independent of the crate's: words
/// are runs of letters, digits and hyphens, everything else separates them.
pub fn direct_count(book: &Book, forms: &[&str]) -> u32 {
    book.chapters
        .iter()
        .flat_map(|c| &c.paragraphs)
        .flat_map(|p| p.split(|c: char| !(c.is_alphanumeric() || c == '-')))
        .map(|w| w.trim_matches('-').to_lowercase())
        .filter(|w| forms.contains(&w.as_str()))
        .count() as u32
}
