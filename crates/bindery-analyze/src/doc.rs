//! The book prepared once for every analysis: chapters of paragraphs of sentences, plus book-wide
//! word statistics. Everything borrows the book's own text, and sentences are tokenised again by
//! each step that needs their tokens rather than kept tokenised: a token held as owned strings
//! costs far more than the characters it covers, so keeping a whole book's tokens would make a
//! long text cost many times its size, while tokenising a sentence again stays linear.

use std::collections::HashMap;

use bindery_core::book::Book;

use crate::text::{lemma, split_sentences, Lang, Sentence};

/// A paragraph split into sentences.
#[derive(Debug)]
pub struct Paragraph<'a> {
    pub text: &'a str,
    pub sentences: Vec<Sentence<'a>>,
}

/// A chapter of paragraphs.
#[derive(Debug)]
pub struct ChapterDoc<'a> {
    /// The chapter's own 1-based index.
    pub index: u32,
    pub paragraphs: Vec<Paragraph<'a>>,
}

/// The prepared book.
#[derive(Debug)]
pub struct Doc<'a> {
    pub lang: Lang,
    pub chapters: Vec<ChapterDoc<'a>>,
    /// How often each lemma occurs written in lower case: a capitalised word whose lower-case
    /// form is common ("Indiens" beside "indien") is an ordinary noun, not a name.
    pub lower_lemmas: HashMap<String, u32>,
}

impl<'a> Doc<'a> {
    pub fn new(book: &'a Book) -> Doc<'a> {
        let lang = Lang::from_code(&book.language);
        let chapters: Vec<ChapterDoc<'a>> = book
            .chapters
            .iter()
            .map(|chapter| ChapterDoc {
                index: chapter.index,
                paragraphs: chapter
                    .paragraphs
                    .iter()
                    .map(|text| Paragraph {
                        text,
                        sentences: split_sentences(text).into_iter().map(|s| Sentence::new(s, lang)).collect(),
                    })
                    .collect(),
            })
            .collect();
        let mut lower_lemmas = HashMap::new();
        for sentence in chapters.iter().flat_map(|c| &c.paragraphs).flat_map(|p| &p.sentences) {
            for token in sentence.tokens().iter().filter(|t| t.word && !t.cap) {
                *lower_lemmas.entry(lemma(&token.lower, lang)).or_insert(0) += 1;
            }
        }
        Doc { lang, chapters, lower_lemmas }
    }

    /// Lower-case occurrences of a word, plurals included.
    pub fn lower_count(&self, lower: &str) -> u32 {
        self.lower_lemmas.get(&lemma(lower, self.lang)).copied().unwrap_or(0)
    }

    pub fn sentences(&self) -> impl Iterator<Item = &Sentence<'a>> {
        self.chapters.iter().flat_map(|c| &c.paragraphs).flat_map(|p| &p.sentences)
    }
}
