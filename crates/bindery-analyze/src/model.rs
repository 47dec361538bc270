//! The analysis a book gets from an [`crate::Analyzer`]: plain data, serialisable, so that the
//! enrich stage can store it as JSON and later stages (index, export) can read it back without
//! knowing which analyzer produced it.

use serde::{Deserialize, Serialize};

/// Everything an analyzer says about one book.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Analysis {
    /// Which analyzer produced this ("offline").
    pub analyzer: String,
    /// Whole-book extractive summary, 3 to 5 sentences taken verbatim from the text.
    pub summary: String,
    /// Whole-book keywords, best first.
    pub keywords: Vec<Keyword>,
    pub chapters: Vec<ChapterAnalysis>,
    /// Characters, most mentioned first.
    pub characters: Vec<Character>,
    /// Places, most mentioned first.
    pub places: Vec<Place>,
}

/// A keyword and its relative weight in (0, 1].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Keyword {
    pub term: String,
    pub score: f32,
}

/// What the analyzer says about one chapter.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ChapterAnalysis {
    /// The chapter's 1-based index, as in [`bindery_core::book::Chapter::index`].
    pub index: u32,
    /// Two or three sentences taken verbatim from the chapter.
    pub summary: String,
    pub keywords: Vec<String>,
    /// Polarity in -1..=1: negative is sad or hostile, positive is happy or friendly.
    pub sentiment: f32,
    /// "joyful", "tense", "melancholic", "angry" or "neutral".
    pub tonality: String,
    pub scenes: Vec<Scene>,
    pub dialogue: Vec<DialogueLine>,
}

/// A run of paragraphs with one cast and setting. Paragraph numbers are 0-based within the chapter.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Scene {
    /// 1-based position in the chapter.
    pub index: u32,
    pub first_paragraph: u32,
    pub last_paragraph: u32,
    /// Canonical character names present, most mentioned first.
    pub characters: Vec<String>,
    pub places: Vec<String>,
    /// One sentence taken verbatim from the scene.
    pub summary: String,
}

/// Quoted speech in one paragraph (0-based within the chapter), with its speaker when the text names one.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DialogueLine {
    pub paragraph: u32,
    /// Canonical character name of the speaker, if attributed.
    pub speaker: Option<String>,
    pub text: String,
}

/// A character, with the other names the text uses for them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Character {
    pub name: String,
    /// Other surface forms ("Fogg", "Mr. Fogg" for "Phileas Fogg").
    pub aliases: Vec<String>,
    pub mentions: u32,
    pub first_chapter: u32,
    /// Indices of the chapters where the character is mentioned.
    pub chapters: Vec<u32>,
}

/// A place named in the book.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Place {
    pub name: String,
    pub mentions: u32,
    pub first_chapter: u32,
}
