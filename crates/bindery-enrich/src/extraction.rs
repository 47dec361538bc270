//! What the model must answer for one chunk of a chapter: the [`Extraction`] type, its JSON Schema (sent as the
//! request's `response_format`, strict), and [`accept`], which parses an answer and checks what a schema cannot say
//! (paragraph numbers inside the chunk, a tonality from the list, quotes that really are in the text).

use crate::chunk::Chunk;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The tonalities an answer may use; the offline analyzer uses the same words.
pub const TONALITIES: [&str; 5] = ["joyful", "tense", "melancholic", "angry", "neutral"];

/// One chunk's answer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Extraction {
    pub summary: String,
    pub keywords: Vec<String>,
    pub sentiment: f32,
    pub tonality: String,
    pub characters: Vec<XCharacter>,
    pub places: Vec<XPlace>,
    pub scenes: Vec<XScene>,
    pub dialogue: Vec<XLine>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct XCharacter {
    pub name: String,
    pub aliases: Vec<String>,
    pub traits: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct XPlace {
    pub name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct XScene {
    pub first_paragraph: u32,
    pub last_paragraph: u32,
    pub setting: String,
    pub atmosphere: String,
    pub characters: Vec<String>,
    pub summary: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct XLine {
    pub paragraph: u32,
    pub speaker: Option<String>,
    pub text: String,
}

/// The whole-book answer, asked once the chapters are done, from their summaries.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BookSummary {
    pub summary: String,
    pub keywords: Vec<String>,
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

/// The JSON Schema of [`Extraction`], in the subset OpenAI's strict structured outputs accept (every property
/// required, no additional properties, `null` through a type list).
pub fn extraction_schema() -> Value {
    let object = |props: Value| {
        let required: Vec<&String> = props.as_object().expect("properties").keys().collect();
        json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
    };
    object(json!({
        "summary": {"type": "string", "description": "two or three sentences"},
        "keywords": strings(),
        "sentiment": {"type": "number", "description": "-1 (sad, hostile) to 1 (happy, friendly)"},
        "tonality": {"type": "string", "enum": TONALITIES},
        "characters": {"type": "array", "items": object(json!({
            "name": {"type": "string", "description": "the fullest name the text uses"},
            "aliases": strings(),
            "traits": strings(),
        }))},
        "places": {"type": "array", "items": object(json!({"name": {"type": "string"}}))},
        "scenes": {"type": "array", "items": object(json!({
            "first_paragraph": {"type": "integer"},
            "last_paragraph": {"type": "integer"},
            "setting": {"type": "string"},
            "atmosphere": {"type": "string"},
            "characters": strings(),
            "summary": {"type": "string"},
        }))},
        "dialogue": {"type": "array", "items": object(json!({
            "paragraph": {"type": "integer"},
            "speaker": {"type": ["string", "null"]},
            "text": {"type": "string"},
        }))},
    }))
}

/// The JSON Schema of [`BookSummary`].
pub fn book_schema() -> Value {
    json!({"type": "object", "properties": {"summary": {"type": "string"}, "keywords": strings()},
           "required": ["summary", "keywords"], "additionalProperties": false})
}

/// Parses and checks a chunk's answer. `Err` carries a reason short enough to show the model in a repair request
/// and to record in a fallback.
pub fn accept(content: &str, chunk: &Chunk) -> Result<Extraction, String> {
    let mut x: Extraction = serde_json::from_str(strip_fence(content)).map_err(|e| format!("not the schema: {e}"))?;
    let range = chunk.first_paragraph..=chunk.last_paragraph;
    if x.summary.trim().is_empty() {
        return Err("the summary is empty".into());
    }
    if !x.sentiment.is_finite() || !(-1.0..=1.0).contains(&x.sentiment) {
        return Err(format!("sentiment {} is outside -1..1", x.sentiment));
    }
    x.tonality = x.tonality.trim().to_lowercase();
    if !TONALITIES.contains(&x.tonality.as_str()) {
        return Err(format!("tonality {:?} is not one of {TONALITIES:?}", x.tonality));
    }
    for s in &x.scenes {
        if s.first_paragraph > s.last_paragraph
            || !range.contains(&s.first_paragraph)
            || !range.contains(&s.last_paragraph)
        {
            return Err(format!(
                "scene paragraphs {}..{} are not within {}..{}",
                s.first_paragraph, s.last_paragraph, chunk.first_paragraph, chunk.last_paragraph
            ));
        }
    }
    // Names are trimmed and empty ones dropped; that is tidying, not a reason to refuse the answer.
    x.characters.retain_mut(|c| {
        c.name = c.name.trim().to_owned();
        c.aliases.retain(|a| !a.trim().is_empty());
        !c.name.is_empty()
    });
    x.places.retain_mut(|p| {
        p.name = p.name.trim().to_owned();
        !p.name.is_empty()
    });
    // A line of dialogue must be in the paragraph it names: anything else is made up and is dropped.
    x.dialogue.retain(|l| {
        range.contains(&l.paragraph) && chunk.paragraph(l.paragraph).is_some_and(|p| contains_loosely(p, &l.text))
    });
    Ok(x)
}

/// Parses the whole-book answer.
pub fn accept_book(content: &str) -> Result<BookSummary, String> {
    let b: BookSummary = serde_json::from_str(strip_fence(content)).map_err(|e| format!("not the schema: {e}"))?;
    if b.summary.trim().is_empty() {
        return Err("the summary is empty".into());
    }
    Ok(b)
}

/// Models without structured output sometimes wrap JSON in a Markdown code fence; the JSON inside is still the answer.
fn strip_fence(content: &str) -> &str {
    let t = content.trim();
    t.strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .map(str::trim)
        .unwrap_or(t)
}

/// Whether `quote` appears in `paragraph`, ignoring case, punctuation and spacing (models normalise quotes and
/// dashes). Only letters and digits are compared.
fn contains_loosely(paragraph: &str, quote: &str) -> bool {
    let norm = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let q = norm(quote);
    !q.is_empty() && norm(paragraph).contains(&q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::chunks;
    use bindery_core::book::{Book, Chapter};

    fn chunk() -> Chunk {
        let book = Book {
            title: None,
            author: None,
            language: "en".into(),
            pages: None,
            front_matter: vec![],
            chapters: vec![Chapter {
                index: 1,
                title: "One".into(),
                paragraphs: vec!["Alice sat by the river.".into(), "\u{201c}How dull!\u{201d} said Alice.".into()],
                first_page: None,
            }],
        };
        chunks(&book, 10_000).remove(0)
    }

    fn answer() -> Value {
        json!({
            "summary": "Alice is bored.", "keywords": ["river"], "sentiment": -0.2, "tonality": "Melancholic",
            "characters": [{"name": " Alice ", "aliases": [""], "traits": ["bored"]}, {"name": " ", "aliases": [], "traits": []}],
            "places": [{"name": "the river"}],
            "scenes": [{"first_paragraph": 0, "last_paragraph": 1, "setting": "a riverbank", "atmosphere": "drowsy",
                        "characters": ["Alice"], "summary": "Alice is bored."}],
            "dialogue": [{"paragraph": 1, "speaker": "Alice", "text": "\"How dull!\""},
                         {"paragraph": 0, "speaker": "Alice", "text": "I am invented"}],
        })
    }

    #[test]
    fn a_good_answer_is_tidied_and_kept() {
        let x = accept(&answer().to_string(), &chunk()).unwrap();
        assert_eq!(x.tonality, "melancholic");
        assert_eq!(x.characters.len(), 1);
        assert_eq!(x.characters[0].name, "Alice");
        assert!(x.characters[0].aliases.is_empty());
        assert_eq!(x.dialogue.len(), 1, "the invented quote is dropped");
        assert_eq!(x.dialogue[0].paragraph, 1);
        let fenced = format!("```json\n{}\n```", answer());
        assert!(accept(&fenced, &chunk()).is_ok());
    }

    #[test]
    fn bad_answers_are_refused_with_a_reason() {
        let mut a = answer();
        a["scenes"][0]["last_paragraph"] = json!(7);
        assert!(accept(&a.to_string(), &chunk()).unwrap_err().contains("scene paragraphs"));
        let mut a = answer();
        a["tonality"] = json!("whimsical");
        assert!(accept(&a.to_string(), &chunk()).unwrap_err().contains("tonality"));
        let mut a = answer();
        a["sentiment"] = json!(3);
        assert!(accept(&a.to_string(), &chunk()).unwrap_err().contains("sentiment"));
        let mut a = answer();
        a["mood"] = json!("x");
        assert!(accept(&a.to_string(), &chunk()).unwrap_err().contains("not the schema"));
        assert!(accept("Sure! Here is the JSON", &chunk()).is_err());
    }

    #[test]
    fn the_schema_is_strict() {
        let s = extraction_schema();
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["required"].as_array().unwrap().len(), 8);
        let scene = &s["properties"]["scenes"]["items"];
        assert_eq!(scene["required"].as_array().unwrap().len(), 6);
        assert_eq!(s["properties"]["dialogue"]["items"]["properties"]["speaker"]["type"], json!(["string", "null"]));
    }
}
