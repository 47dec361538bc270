//! Dialogue: quoted speech per paragraph (‘…’, “…”, «…», and French paragraphs opened by a dash)
//! and, where the text says who speaks, the speaker — a speech verb next to a known character
//! ("said the Hatter", "Alice replied", "répondit Mr. Fogg"). An inverted pronoun ("dit-il")
//! leaves the speaker unknown rather than guessed.

use crate::cast::{Cast, Kind};
use crate::doc::Paragraph;
use crate::text::{Lang, Token};
use crate::words::{has_pronoun_subject, is_article, is_speech_verb, is_title};

/// The quoted speech in a paragraph, joined with spaces, or `None` if it has none.
pub fn quoted_text(text: &str) -> Option<String> {
    let trimmed = text.trim_start();
    if let Some(rest) = trimmed.strip_prefix("--").or_else(|| trimmed.strip_prefix('—')) {
        return Some(rest.trim().to_string());
    }
    let mut spans: Vec<String> = Vec::new();
    let mut open: Option<(char, String)> = None;
    // The characters around the current one, without collecting the paragraph's characters.
    let mut chars = text.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        let before = prev.replace(c);
        match open.as_mut() {
            None => {
                let close = match c {
                    '‘' => '’',
                    '“' => '”',
                    '«' => '»',
                    '"' => '"',
                    _ => continue,
                };
                open = Some((close, String::new()));
            }
            Some((close, span)) => {
                // A curly apostrophe inside a word ("it’s") does not close a quotation.
                let inside_word = c == '’'
                    && before.is_some_and(char::is_alphanumeric)
                    && chars.peek().is_some_and(|n| n.is_alphanumeric());
                if c == *close && !inside_word {
                    let s = span.trim().to_string();
                    if !s.is_empty() {
                        spans.push(s);
                    }
                    open = None;
                } else {
                    span.push(c);
                }
            }
        }
    }
    // Quotations often run on into the next paragraph without closing.
    if let Some((_, span)) = open {
        let s = span.trim().to_string();
        if !s.is_empty() {
            spans.push(s);
        }
    }
    // Guillemets and quotes also mark a borrowed word ("une certaine «surface»"): inside a
    // paragraph, a short quotation without sentence punctuation is not speech.
    let opens_with_quote = trimmed.starts_with(['‘', '“', '«', '"']);
    spans.retain(|s| opens_with_quote || s.split_whitespace().count() >= 4 || s.contains(['.', '!', '?', '…']));
    (!spans.is_empty()).then(|| spans.join(" "))
}

/// The character a paragraph's speech verb names, if any.
pub fn speaker(paragraph: &Paragraph, cast: &Cast, lang: Lang) -> Option<usize> {
    for sentence in &paragraph.sentences {
        let toks = &sentence.tokens();
        for (v, verb) in toks.iter().enumerate() {
            if !verb.word || !is_speech_verb(&verb.lower, lang) {
                continue;
            }
            if has_pronoun_subject(&verb.lower) {
                continue;
            }
            if let Some(e) = name_after(toks, v + 1, cast).or_else(|| name_before(toks, v, cast)) {
                return Some(e);
            }
        }
    }
    None
}

fn character(cast: &Cast, form: &str) -> Option<usize> {
    cast.lookup.get(form).copied().filter(|&e| cast.entities[e].kind == Kind::Character)
}

/// Longest known name starting at `start` (after articles, and after a title if need be).
fn name_after(toks: &[Token], mut start: usize, cast: &Cast) -> Option<usize> {
    while toks.get(start).is_some_and(|t| t.word && is_article(&t.lower)) {
        start += 1;
    }
    if let Some(e) = longest_from(toks, start, cast) {
        return Some(e);
    }
    if toks.get(start).is_some_and(|t| t.word && is_title(&t.lower)) {
        start += 1;
        if toks.get(start).is_some_and(|t| t.text == ".") {
            start += 1;
        }
        return longest_from(toks, start, cast);
    }
    None
}

fn longest_from(toks: &[Token], start: usize, cast: &Cast) -> Option<usize> {
    (1..=4).rev().find_map(|len| {
        let span = toks.get(start..start + len)?;
        if !span.iter().all(|t| t.word) {
            return None;
        }
        character(cast, &span.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" "))
    })
}

/// Longest known name ending just before the verb at `verb` ("Alice replied").
fn name_before(toks: &[Token], verb: usize, cast: &Cast) -> Option<usize> {
    (1..=4.min(verb)).rev().find_map(|len| {
        let span = &toks[verb - len..verb];
        if !span.iter().all(|t| t.word) {
            return None;
        }
        character(cast, &span.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotations_are_extracted() {
        assert_eq!(
            quoted_text("‘It’s always tea-time,’ said the Hatter, ‘and we’ve no time.’").unwrap(),
            "It’s always tea-time, and we’ve no time."
        );
        assert_eq!(
            quoted_text("«Vous êtes Français? lui demanda Phileas Fogg.").unwrap(),
            "Vous êtes Français? lui demanda Phileas Fogg."
        );
        assert_eq!(
            quoted_text("--Oui, monsieur, répondit Passepartout.").unwrap(),
            "Oui, monsieur, répondit Passepartout."
        );
        assert_eq!(quoted_text("De là une certaine «surface», due à ce que ses chèques étaient payés."), None);
        assert_eq!(quoted_text("No speech here."), None);
    }
}
