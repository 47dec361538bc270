//! The book prepared once for every analysis: chapters of paragraphs of tokenised sentences,
//! plus book-wide word statistics. Tokenising once keeps the whole analysis linear in the size
//! of the book, which is what lets a 70,000-word novel be analysed in well under a second.

use std::collections::HashMap;

use bindery_core::book::Book;

use crate::text::{lemma, split_sentences, Lang, Sentence};

/// A paragraph split into sentences.
#[derive(Debug)]
pub struct Paragraph {
    pub text: String,
    pub sentences: Vec<Sentence>,
}

/// A chapter of tokenised paragraphs.
#[derive(Debug)]
pub struct ChapterDoc {
    /// The chapter's own 1-based index.
    pub index: u32,
    pub paragraphs: Vec<Paragraph>,
}

/// The prepared book.
#[derive(Debug)]
pub struct Doc {
    pub lang: Lang,
    pub chapters: Vec<ChapterDoc>,
    /// How often each lemma occurs written in lower case: a capitalised word whose lower-case
    /// form is common ("Indiens" beside "indien") is an ordinary noun, not a name.
    pub lower_lemmas: HashMap<String, u32>,
}

impl Doc {
    pub fn new(book: &Book) -> Doc {
        let lang = Lang::from_code(&book.language);
        let chapters: Vec<ChapterDoc> = book
            .chapters
            .iter()
            .map(|chapter| ChapterDoc {
                index: chapter.index,
                paragraphs: chapter
                    .paragraphs
                    .iter()
                    .map(|text| Paragraph {
                        text: text.clone(),
                        sentences: split_sentences(text).iter().map(|s| Sentence::parse(s, lang)).collect(),
                    })
                    .collect(),
            })
            .collect();
        let mut lower_lemmas = HashMap::new();
        for sentence in chapters.iter().flat_map(|c| &c.paragraphs).flat_map(|p| &p.sentences) {
            for token in sentence.words().filter(|t| !t.cap) {
                *lower_lemmas.entry(lemma(&token.lower, lang)).or_insert(0) += 1;
            }
        }
        Doc { lang, chapters, lower_lemmas }
    }

    /// Lower-case occurrences of a word, plurals included.
    pub fn lower_count(&self, lower: &str) -> u32 {
        self.lower_lemmas.get(&lemma(lower, self.lang)).copied().unwrap_or(0)
    }

    pub fn sentences(&self) -> impl Iterator<Item = &Sentence> {
        self.chapters.iter().flat_map(|c| &c.paragraphs).flat_map(|p| &p.sentences)
    }
}
