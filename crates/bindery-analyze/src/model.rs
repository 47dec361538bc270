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
    /// Set by language-model analyzers: what they used and spent, and where they fell back to the offline analyzer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelReport>,
}

/// How a language-model analysis was made: provider, model, prompt version, tokens and cost, and every chunk that
/// fell back to the offline analyzer, with the reason.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct ModelReport {
    pub provider: String,
    pub model: String,
    pub prompt_version: String,
    /// "sync" or "batch": how the chunks that were not cached were sent.
    pub mode: String,
    /// Chunks (chapter parts, plus the whole-book summary) asked of the model.
    pub chunks: u32,
    /// Of those, answered from the cache (no request, no cost).
    pub cached: u32,
    /// HTTP requests made (repairs and the batch's lines included).
    pub requests: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Estimated from the provider's configured prices; `None` when no price is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    pub fallbacks: Vec<Fallback>,
}

/// A part of the book the model could not answer for (after one repair), analysed offline instead.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Fallback {
    /// The chapter's 1-based index; 0 for the whole-book summary.
    pub chapter: u32,
    pub first_paragraph: u32,
    pub last_paragraph: u32,
    pub reason: String,
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
    /// One sentence taken verbatim from the scene (offline), or the model's own summary.
    pub summary: String,
    /// Where and when the scene takes place, in a few words (language-model analyzers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
    /// The scene's mood, in a few words (language-model analyzers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atmosphere: Option<String>,
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
    /// Traits the text gives the character ("curious", "impatient"); language-model analyzers only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traits: Vec<String>,
}

/// A place named in the book.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Place {
    pub name: String,
    pub mentions: u32,
    pub first_chapter: u32,
}
