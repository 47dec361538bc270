//! A book's vocabulary, ready for a reader: every content word of the book reduced to its lemma, ranked by how
//! rare it is in general usage, with the sentence where it first appears and, for English, its WordNet
//! definitions.
//!
//! The crate exists so the pipeline's `dictionary` stage can turn a structured [`Book`](bindery_core::book::Book)
//! into a glossary without any network service: English definitions and general frequencies come from the
//! WordNet 3.0 database that Debian ships in the `wordnet-base` package (`/usr/share/wordnet`), read directly
//! by [`WordNet`]. French has no definitions and no general frequency list (see [`french`] for why), so French
//! rarity is measured inside the book itself.
//!
//! Entry points: [`WordNet::open`] (or [`WordNet::open_default`]) once per process, then [`build`] per book.

mod dictionary;
pub mod french;
mod morphy;
pub mod stopwords;
pub mod text;
mod wordnet;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use dictionary::{build, Dictionary, Entry, Occurrence, Options};
pub use wordnet::WordNet;

/// Where [`WordNet::open_default`] looks (Debian's `wordnet-base`).
pub const DEFAULT_WORDNET_DIR: &str = "/usr/share/wordnet";

/// Errors from loading the WordNet database. Building a dictionary itself cannot fail.
#[derive(Debug, thiserror::Error)]
pub enum DictionaryError {
    #[error("cannot read WordNet file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("malformed WordNet file {path} at line {line}: {reason}")]
    Parse { path: PathBuf, line: usize, reason: String },
    #[error("malformed WordNet data record at offset {offset} in {path}")]
    BadRecord { path: PathBuf, offset: u32 },
}

/// WordNet's four syntactic categories. Satellite adjectives (`s`) are folded into [`Pos::Adj`], as the
/// database's own index files do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pos {
    Noun,
    Verb,
    Adj,
    Adv,
}

impl Pos {
    /// All categories, in the order WordNet's tools list them.
    pub const ALL: [Pos; 4] = [Pos::Noun, Pos::Verb, Pos::Adj, Pos::Adv];

    /// The name used in [`Definition::pos`] and [`Entry::pos`]: "noun", "verb", "adj" or "adv".
    pub fn as_str(self) -> &'static str {
        match self {
            Pos::Noun => "noun",
            Pos::Verb => "verb",
            Pos::Adj => "adj",
            Pos::Adv => "adv",
        }
    }

    /// The suffix of the database's file names (`index.noun`, `data.adj`, `adv.exc`).
    pub(crate) fn file_suffix(self) -> &'static str {
        match self {
            Pos::Noun => "noun",
            Pos::Verb => "verb",
            Pos::Adj => "adj",
            Pos::Adv => "adv",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Maps the `ss_type` digit of a sense key (1 noun, 2 verb, 3 adjective, 4 adverb, 5 satellite).
    pub(crate) fn from_ss_type(digit: u8) -> Option<Pos> {
        match digit {
            b'1' => Some(Pos::Noun),
            b'2' => Some(Pos::Verb),
            b'3' | b'5' => Some(Pos::Adj),
            b'4' => Some(Pos::Adv),
            _ => None,
        }
    }
}

/// One sense of a word: WordNet's gloss split into the definition proper and its quoted usage examples.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    /// "noun", "verb", "adj" or "adv".
    pub pos: String,
    pub gloss: String,
    #[serde(default)]
    pub examples: Vec<String>,
}
