//! Finding name mentions in the text: runs of capitalised words ("Phileas Fogg", "Queen of
//! Hearts", "Stamp W. Proctor"), titles in front of them ("Mr. Fogg"), and Alice-style common
//! nouns that speak ("said the cook"). Each mention carries the cues around it — a speech verb
//! or a title says person, a locative preposition says place — so that the cast can be sorted
//! into characters and places without a gazetteer.

use std::collections::{HashMap, HashSet};

use crate::doc::Doc;
use crate::text::{Lang, Token};
use crate::words::{
    is_article, is_name_connector, is_noise, is_place_noun, is_place_strong, is_place_weak, is_speech_verb, is_stop,
    is_title,
};

/// One mention of a candidate name.
#[derive(Clone, Debug)]
pub struct Mention {
    /// The name without its title: "Fogg" for "Mr. Fogg".
    pub key: String,
    /// The name as written, title included.
    pub surface: String,
    /// Position of the chapter in the book (0-based) and of the paragraph in the chapter.
    pub chapter: usize,
    pub paragraph: usize,
    /// The mention opens a sentence or a quotation, so its capital proves nothing.
    pub initial: bool,
    pub person: f32,
    pub place: f32,
}

fn is_name_token(t: &Token, lang: Lang) -> bool {
    // "I'd" and "I'll" are pronouns with a contraction, not names.
    let contraction = t.lower.split('\'').next().is_some_and(|head| head != t.lower && is_stop(head, lang));
    t.word
        && t.cap
        && !t.all_caps
        && !contraction
        && !is_stop(&t.lower, lang)
        && !t.text.chars().any(|c| c.is_ascii_digit())
}

/// Lower-case nouns that are the subject of a speech verb at least twice ("said the cook").
pub fn common_speakers(doc: &Doc) -> HashSet<String> {
    let mut counts: HashMap<String, u32> = HashMap::new();
    for sentence in doc.sentences() {
        let toks = &sentence.tokens();
        for i in 0..toks.len().saturating_sub(2) {
            let (verb, article, noun) = (&toks[i], &toks[i + 1], &toks[i + 2]);
            let ends_clause = toks.get(i + 3).is_none_or(|t| !t.word);
            if verb.word
                && is_speech_verb(&verb.lower, doc.lang)
                && is_article(&article.lower)
                && noun.word
                && !noun.cap
                && ends_clause
                && !is_stop(&noun.lower, doc.lang)
                && !is_noise(&noun.lower)
                && !is_title(&noun.lower)
                && noun.lower.chars().count() > 2
            {
                *counts.entry(noun.lower.clone()).or_insert(0) += 1;
            }
        }
    }
    counts.into_iter().filter(|(_, n)| *n >= 2).map(|(w, _)| w).collect()
}

/// Every mention of a candidate name in the book, in reading order.
pub fn find_mentions(doc: &Doc, speakers: &HashSet<String>) -> Vec<Mention> {
    let mut out = Vec::new();
    for (ci, chapter) in doc.chapters.iter().enumerate() {
        for (pi, paragraph) in chapter.paragraphs.iter().enumerate() {
            for sentence in &paragraph.sentences {
                scan_sentence(doc, &sentence.tokens(), speakers, ci, pi, &mut out);
            }
        }
    }
    out
}

fn scan_sentence(doc: &Doc, toks: &[Token], speakers: &HashSet<String>, ci: usize, pi: usize, out: &mut Vec<Mention>) {
    let lang = doc.lang;
    let n = toks.len();
    let mut i = 0;
    while i < n {
        let t = &toks[i];
        if t.word && !t.cap && speakers.contains(&t.lower) && i > 0 && is_article(&toks[i - 1].lower) {
            let (person, place) = cues(toks, i - 1, i + 1, lang);
            let surface = format!("{} {}", toks[i - 1].text.to_lowercase(), t.text).replace("' ", "'");
            out.push(Mention {
                key: t.lower.clone(),
                surface,
                chapter: ci,
                paragraph: pi,
                initial: false,
                person,
                place,
            });
            i += 1;
            continue;
        }
        let start = i;
        let mut title = None;
        if t.word && t.cap && is_title(&t.lower) {
            let mut j = i + 1;
            if toks.get(j).is_some_and(|d| d.text == ".") {
                j += 1;
            }
            if toks.get(j).is_some_and(|d| is_name_token(d, lang) && !is_title(&d.lower)) {
                title = Some(if j == i + 2 { format!("{}.", t.text) } else { t.text.clone() });
                i = j;
            }
        }
        if !is_name_token(&toks[i], lang) {
            i += 1;
            continue;
        }
        let mut parts: Vec<String> = Vec::new();
        let mut first = i;
        let mut end = i;
        while end < n {
            let t = &toks[end];
            if is_name_token(t, lang) {
                let initial_letter = t.text.chars().count() == 1;
                if initial_letter && toks.get(end + 1).is_some_and(|d| d.text == ".") {
                    if toks.get(end + 2).is_some_and(|d| is_name_token(d, lang)) {
                        parts.push(format!("{}.", t.text));
                        end += 2;
                        continue;
                    }
                    break;
                }
                parts.push(t.text.clone());
                end += 1;
                if t.possessive {
                    break;
                }
            } else if !parts.is_empty()
                && is_name_connector(&t.lower, lang)
                && toks.get(end + 1).is_some_and(|d| is_name_token(d, lang))
            {
                parts.push(t.lower.clone());
                end += 1;
            } else {
                break;
            }
        }
        // A lone initial ("B." not followed by a name) is no mention.
        if parts.is_empty() {
            i += 1;
            continue;
        }
        // A capital at the start of a sentence proves nothing: drop a leading word that the book
        // usually writes in lower case, or that is an interjection ("Oh Alice").
        while title.is_none() && parts.len() > 1 && toks[first].initial {
            let lower = parts[0].to_lowercase();
            if is_noise(&lower) || doc.lower_count(&lower) > 0 {
                parts.remove(0);
                first += 1;
            } else {
                break;
            }
        }
        let initial = title.is_none() && toks[first].initial;
        let key = parts.join(" ");
        let surface = match &title {
            Some(title) => format!("{title} {key}"),
            None => key.clone(),
        };
        let (mut person, place) = cues(toks, start, end, lang);
        if title.is_some() {
            person += 2.0;
        }
        out.push(Mention { key, surface, chapter: ci, paragraph: pi, initial, person, place });
        i = end.max(i + 1);
    }
}

/// Person and place evidence around a mention spanning `toks[start..end]`.
fn cues(toks: &[Token], start: usize, end: usize, lang: Lang) -> (f32, f32) {
    let possessive = toks[end - 1].possessive;
    let mut before = toks[..start].iter().rev().take_while(|t| t.word).filter(|t| !is_article(&t.lower));
    let prev = before.next().map(|t| t.lower.as_str());
    let prev2 = before.next().map(|t| t.lower.as_str());
    let next = toks.get(end).filter(|t| t.word).map(|t| t.lower.as_str());
    let mut person = 0.0;
    let mut place = 0.0;
    if prev.is_some_and(|p| is_speech_verb(p, lang)) || next.is_some_and(|n| is_speech_verb(n, lang)) {
        person += 1.0;
    }
    if prev.is_some_and(|p| is_title(p) || (lang == Lang::Fr && p == "chez")) {
        person += 1.0;
    }
    if possessive {
        return (person, place);
    }
    if let Some(p) = prev {
        if is_place_strong(p, lang) {
            place += 1.0;
        } else if prev2.is_some_and(is_place_noun) && (p == "of" || is_place_weak(p, lang)) {
            place += 2.0;
        } else if is_place_weak(p, lang) && !prev2.is_some_and(|q| is_speech_verb(q, lang) || is_title(q)) {
            place += 0.5;
        }
    }
    (person, place)
}
