//! Keywords by TF-IDF across chapters: a word is a good keyword for a chapter when the chapter
//! uses it much more than the rest of the book does. Words are folded to a crude lemma so that
//! plurals count with their singulars, and shown in their most frequent written form.

use std::collections::HashMap;

use crate::doc::Doc;
use crate::text::{lemma, Token};
use crate::words::{is_noise, is_stop, is_title};

/// Term weights per chapter and for the whole book.
#[derive(Debug, Default)]
pub struct Weights {
    /// lemma → TF-IDF weight, one map per chapter position.
    pub chapters: Vec<HashMap<String, f32>>,
    /// lemma → book-level weight in (0, 1].
    pub book: HashMap<String, f32>,
    /// lemma → its most frequent written (lower-case) form.
    pub display: HashMap<String, String>,
}

/// The lemma a token counts under, or `None` for stop words, numbers and very short words.
pub fn term(doc: &Doc, token: &Token) -> Option<String> {
    let ok = token.word
        && token.lower.chars().count() >= 3
        && token.lower.chars().all(|c| c.is_alphabetic() || c == '-' || c == '\'')
        && !is_stop(&token.lower, doc.lang)
        && !is_noise(&token.lower)
        && !is_title(&token.lower);
    ok.then(|| lemma(&token.lower, doc.lang))
}

pub fn weights(doc: &Doc) -> Weights {
    let mut counts: Vec<HashMap<String, u32>> = Vec::new();
    let mut forms: HashMap<String, HashMap<String, u32>> = HashMap::new();
    for chapter in &doc.chapters {
        let mut c: HashMap<String, u32> = HashMap::new();
        for sentence in chapter.paragraphs.iter().flat_map(|p| &p.sentences) {
            for token in sentence.tokens().iter().filter(|t| t.word) {
                if let Some(t) = term(doc, token) {
                    *forms.entry(t.clone()).or_default().entry(token.lower.clone()).or_insert(0) += 1;
                    *c.entry(t).or_insert(0) += 1;
                }
            }
        }
        counts.push(c);
    }
    let n = counts.len() as f32;
    let mut df: HashMap<&String, u32> = HashMap::new();
    let mut book_tf: HashMap<&String, u32> = HashMap::new();
    for c in &counts {
        for (t, k) in c {
            *df.entry(t).or_insert(0) += 1;
            *book_tf.entry(t).or_insert(0) += k;
        }
    }
    let idf = |t: &String| ((n + 1.0) / (df[t] as f32 + 0.5)).ln().max(0.0);
    let chapters = counts
        .iter()
        .map(|c| {
            let len = c.values().sum::<u32>().max(1) as f32;
            c.iter().map(|(t, k)| (t.clone(), *k as f32 / len * idf(t))).collect()
        })
        .collect();
    let raw: HashMap<String, f32> = book_tf
        .iter()
        .filter(|(_, k)| **k >= 2)
        .map(|(t, k)| ((*t).clone(), (1.0 + *k as f32).ln() * (1.0 + n / df[t] as f32).ln()))
        .collect();
    let max = raw.values().cloned().fold(0.0f32, f32::max).max(f32::MIN_POSITIVE);
    let book = raw.into_iter().map(|(t, w)| (t, w / max)).collect();
    let display = forms
        .into_iter()
        .map(|(t, f)| {
            let best = f.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0))).map(|(w, _)| w);
            (t, best.unwrap_or_default())
        })
        .collect();
    Weights { chapters, book, display }
}

/// The `k` best terms of a weight map, best first, in their display form.
pub fn top(weights: &HashMap<String, f32>, display: &HashMap<String, String>, k: usize) -> Vec<(String, f32)> {
    let mut ranked: Vec<(&String, &f32)> = weights.iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(a.1).then_with(|| a.0.cmp(b.0)));
    ranked.into_iter().take(k).map(|(t, w)| (display.get(t).cloned().unwrap_or_else(|| t.clone()), *w)).collect()
}
