//! Building a book's dictionary: tokenise every sentence, drop what a reader needs no help with (stop words,
//! numbers, proper nouns, very short words), reduce each word to its lemma, count, remember the first sentence
//! it appears in, rank by rarity and attach definitions.
//!
//! Rarity is a number from 0 (common) to 1 (rare). For English with WordNet it comes from general usage, the
//! semantic-concordance tag counts in `cntlist.rev`: `1 - ln(1 + count) / ln(1 + max)`, where `max` is the count of
//! WordNet's most frequent lemma; words WordNet does not know are treated as rarest (1.0, `general_frequency`
//! `None`). Without a general list (French, or English without WordNet) the same formula is applied to counts
//! inside the book, and `general_frequency` is `None`: no number is ever made up.

use std::collections::{BTreeSet, HashMap, HashSet};

use bindery_core::book::Book;
use serde::{Deserialize, Serialize};

use crate::stopwords::is_stop_word;
use crate::text;
use crate::{french, Definition, Pos, WordNet};

/// Knobs for [`build`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    /// Words shorter than this many characters (as written) are skipped.
    pub min_len: usize,
    /// At most this many entries are kept, the rarest ones.
    pub max_entries: usize,
    /// At most this many WordNet senses per entry.
    pub max_definitions: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { min_len: 3, max_entries: 5_000, max_definitions: 3 }
    }
}

/// A book's vocabulary, rarest words first.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Dictionary {
    pub language: String,
    pub entries: Vec<Entry>,
}

/// One lemma of the book.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Entry {
    pub lemma: String,
    /// "noun", "verb", "adj" or "adv" when a lexicon told us; `None` otherwise (French, unknown words).
    pub pos: Option<String>,
    /// Occurrences in this book, all inflected forms together.
    pub frequency: u32,
    /// 0 for common words, 1 for rare ones; see the module documentation for the scale.
    pub rarity: f32,
    /// The lemma's count in the general frequency list (WordNet tag counts), when there is one for it.
    pub general_frequency: Option<u32>,
    pub first: Occurrence,
    pub definitions: Vec<Definition>,
    /// The lower-cased forms that occur in the book, so an entry can be found from any of them.
    #[serde(default)]
    pub forms: Vec<String>,
}

/// Where a word first appears.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    /// The chapter's 1-based index.
    pub chapter: u32,
    /// The whole sentence, whitespace collapsed.
    pub sentence: String,
}

impl Dictionary {
    /// The entry whose lemma is `word`, or which `word` is an inflected form of (as seen in the book).
    pub fn lookup(&self, word: &str) -> Option<&Entry> {
        let word = word.trim().to_lowercase().replace('’', "'");
        let collocation = word.replace(['_', '-'], " ");
        self.entries
            .iter()
            .find(|e| e.lemma == word || e.lemma == collocation)
            .or_else(|| self.entries.iter().find(|e| e.forms.contains(&word)))
    }
}

#[derive(Default)]
struct Tally {
    count: u32,
    pos_counts: [u32; 4],
    first: Option<Occurrence>,
    forms: BTreeSet<String>,
}

/// Builds the dictionary of `book`. English books get lemmas, categories, general rarity and definitions from
/// `wordnet` when it is given; every other case falls back to in-book rarity (see the module documentation).
pub fn build(book: &Book, wordnet: Option<&WordNet>, opts: &Options) -> Dictionary {
    let language = book.language.to_lowercase();
    let lang = language.get(..2).unwrap_or(&language);
    // Every sentence with its chapter's index and its tokens, made afresh by each of the two passes below: a whole
    // book's sentences and tokens held at once would cost many times the book's size.
    let sentences = move || {
        book.chapters
            .iter()
            .flat_map(|c| c.paragraphs.iter().map(move |p| (c.index, p)))
            .flat_map(|(chapter, p)| text::sentences(p).into_iter().map(move |s| (chapter, s)))
            .map(move |(chapter, s)| (chapter, text::tokens(&s, lang), s))
    };

    // A proper noun is a word capitalised in mid-sentence and never written in lower case anywhere in the book;
    // sentence-initial capitals prove nothing either way.
    let mut lower_seen = HashSet::new();
    let mut capitalised_mid = HashSet::new();
    for token in sentences().flat_map(|(_, tokens, _)| tokens) {
        if token.all_caps {
            continue;
        }
        if !token.capitalised {
            lower_seen.insert(token.text);
        } else if !token.sentence_initial {
            capitalised_mid.insert(token.text);
        }
    }
    let english_wordnet = wordnet.filter(|_| lang == "en");

    let mut lemmas: HashMap<String, Option<(String, Option<Pos>)>> = HashMap::new();
    let mut tallies: HashMap<String, Tally> = HashMap::new();
    for (chapter, tokens, sentence) in sentences() {
        for token in &tokens {
            let word = &token.text;
            if token.numeric || word.chars().count() < opts.min_len || is_stop_word(word, lang) {
                continue;
            }
            if capitalised_mid.contains(word) && !lower_seen.contains(word) {
                continue;
            }
            let lemma = lemmas.entry(word.clone()).or_insert_with(|| {
                let (lemma, pos) = match (lang, english_wordnet) {
                    ("en", Some(wn)) => match wn.best_lemma(word) {
                        Some((pos, lemma)) => (lemma.replace('_', " "), Some(pos)),
                        None => (word.clone(), None),
                    },
                    ("fr", _) => (french::lemmatize(word, &lower_seen), None),
                    _ => (word.clone(), None),
                };
                (!is_stop_word(&lemma, lang)).then_some((lemma, pos))
            });
            let Some((lemma, pos)) = lemma else { continue };
            let tally = tallies.entry(lemma.clone()).or_default();
            tally.count += 1;
            if let Some(pos) = pos {
                tally.pos_counts[pos.index()] += 1;
            }
            tally.forms.insert(word.clone());
            if tally.first.is_none() {
                tally.first = Some(Occurrence { chapter, sentence: sentence.clone() });
            }
        }
    }

    let max_in_book = tallies.values().map(|t| t.count).max().unwrap_or(0);
    let mut entries: Vec<Entry> = tallies
        .into_iter()
        .map(|(lemma, tally)| {
            let pos = (0..4).filter(|&i| tally.pos_counts[i] > 0).max_by_key(|&i| (tally.pos_counts[i], 4 - i));
            let pos = pos.map(|i| Pos::ALL[i]);
            let (general_frequency, rarity) = match english_wordnet {
                Some(wn) if pos.is_some() => {
                    let count = wn.frequency(&lemma);
                    (Some(count), rarity(count, wn.max_frequency()))
                }
                Some(_) => (None, 1.0),
                None => (None, rarity(tally.count, max_in_book)),
            };
            let definitions = match english_wordnet {
                Some(wn) if pos.is_some() => wn.definitions(&lemma, pos, opts.max_definitions),
                _ => Vec::new(),
            };
            Entry {
                pos: pos.map(|p| p.as_str().to_string()),
                frequency: tally.count,
                rarity,
                general_frequency,
                first: tally.first.expect("a tally is created with its first occurrence"),
                definitions,
                forms: tally.forms.into_iter().collect(),
                lemma,
            }
        })
        .collect();
    entries.sort_by(|a, b| b.rarity.total_cmp(&a.rarity).then_with(|| a.lemma.cmp(&b.lemma)));
    entries.truncate(opts.max_entries);
    Dictionary { language: book.language.clone(), entries }
}

/// `1 - ln(1 + count) / ln(1 + max)`, clamped to [0, 1]; 1 when there is no scale at all.
fn rarity(count: u32, max: u32) -> f32 {
    if max == 0 {
        return 1.0;
    }
    let r = 1.0 - (f64::from(count)).ln_1p() / (f64::from(max)).ln_1p();
    r.clamp(0.0, 1.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use bindery_core::book::Chapter;

    fn book(language: &str, chapters: &[&[&str]]) -> Book {
        let chapters = chapters
            .iter()
            .enumerate()
            .map(|(i, ps)| Chapter {
                index: i as u32 + 1,
                title: format!("{}", i + 1),
                paragraphs: ps.iter().map(|p| p.to_string()).collect(),
                first_page: None,
            })
            .collect();
        Book { language: language.into(), chapters, ..Book::default() }
    }

    #[test]
    fn french_without_lexicon_uses_in_book_rarity_and_skips_names() {
        let b = book(
            "fr",
            &[
                &["Phileas Fogg partit. Les grandes maisons étaient grandes."],
                &["Le grand voyage commença, et Fogg regarda les maisons grandes."],
            ],
        );
        let d = build(&b, None, &Options::default());
        assert!(d.lookup("fogg").is_none() && d.lookup("phileas").is_some(), "Phileas opens a sentence only");
        let grand = d.lookup("grandes").expect("grand");
        assert_eq!((grand.lemma.as_str(), grand.frequency, grand.first.chapter), ("grand", 4, 1));
        assert_eq!(grand.first.sentence, "Les grandes maisons étaient grandes.");
        assert!(grand.general_frequency.is_none() && grand.definitions.is_empty());
        let voyage = d.lookup("voyage").expect("voyage");
        assert!(voyage.rarity > grand.rarity, "a word seen once is rarer in-book than one seen four times");
        assert_eq!(d.entries.first().map(|e| e.rarity), d.entries.iter().map(|e| e.rarity).reduce(f32::max));
    }

    #[test]
    fn rarity_scale_is_bounded_and_monotonic() {
        assert_eq!(rarity(0, 100), 1.0);
        assert_eq!(rarity(100, 100), 0.0);
        assert!(rarity(3, 100) > rarity(30, 100));
        assert_eq!(rarity(5, 0), 1.0);
    }
}
