//! Sentence splitting and word tokenisation for the dictionary. Kept deliberately simple and predictable: a
//! dictionary needs words and the sentence around them, not a full linguistic analysis. Words are runs of letters
//! and digits, joined by an apostrophe or a hyphen that stands between two such characters ("rabbit-hole",
//! "aujourd'hui"); English clitics ("'s", "n't") and French elisions ("l'", "qu'") and inverted pronouns
//! ("dit-il") are detached so that the word itself remains.

/// One word of a sentence, as the dictionary sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Lower-cased, with typographic apostrophes replaced by `'`.
    pub text: String,
    /// The word began with an upper-case letter in the text and was not written entirely in capitals.
    pub capitalised: bool,
    /// The word was written entirely in capitals ("VERY", "ALICE’S"): emphasis or a title, which says nothing
    /// about whether it is a name.
    pub all_caps: bool,
    /// The word opens its sentence or a quotation, where capitals say nothing about proper nouns.
    pub sentence_initial: bool,
    /// The word contains a digit ("1872", "3rd"); such tokens are not dictionary words.
    pub numeric: bool,
}

/// Abbreviations whose final period does not end a sentence.
const ABBREVIATIONS: &[&str] = &["mr", "mrs", "ms", "dr", "st", "mme", "mlle", "mm", "esq", "etc", "vol", "ch", "no"];

fn is_closer(c: char) -> bool {
    matches!(c, '’' | '”' | '"' | '\'' | ')' | ']' | '»' | '.' | '!' | '?' | '…')
}

fn is_opener(c: char) -> bool {
    matches!(c, '‘' | '“' | '"' | '(' | '[' | '«' | '—' | '–' | ':' | '_')
}

/// Splits a paragraph into sentences, each with its whitespace collapsed to single spaces.
pub fn sentences(paragraph: &str) -> Vec<String> {
    let chars: Vec<char> = paragraph.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        if matches!(chars[i], '.' | '!' | '?' | '…') && !is_abbreviation(&chars[start..i], chars[i]) {
            let mut end = i + 1;
            while end < chars.len() && is_closer(chars[end]) {
                end += 1;
            }
            // A quotation that ends in "!" or "?" and goes on in lower case ("‘Oh!’ said Alice") is one sentence.
            let next = chars[end..].iter().find(|c| !c.is_whitespace());
            let continues = chars[i] != '.' && next.is_some_and(|c| c.is_lowercase());
            if (end == chars.len() || chars[end].is_whitespace()) && !continues {
                push_sentence(&mut out, &chars[start..end]);
                start = end;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    push_sentence(&mut out, &chars[start..]);
    out
}

/// A period after a known abbreviation or a single capital letter ("M. Fogg", "J. Smith") ends no sentence.
fn is_abbreviation(before: &[char], terminator: char) -> bool {
    if terminator != '.' {
        return false;
    }
    let word: String =
        before.iter().rev().take_while(|c| c.is_alphabetic()).collect::<Vec<_>>().into_iter().rev().collect();
    let single_capital = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
    single_capital || ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}

fn push_sentence(out: &mut Vec<String>, chars: &[char]) {
    let text: String = chars.iter().collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().any(char::is_alphanumeric) {
        out.push(text);
    }
}

/// The words of one sentence for a book in `language` ("en", "fr", or anything else for no clitic handling).
pub fn tokens(sentence: &str, language: &str) -> Vec<Token> {
    let chars: Vec<char> = sentence.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut after_opener = true;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_alphanumeric() {
            if is_opener(c) {
                after_opener = true;
            }
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() {
            let joins = matches!(chars[i], '\'' | '’' | '-')
                && i > start
                && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
            if chars[i].is_alphanumeric() || joins {
                i += 1;
            } else {
                break;
            }
        }
        let raw: String = chars[start..i].iter().collect();
        let sentence_initial = out.is_empty() || after_opener;
        after_opener = false;
        let letters: Vec<char> = raw.chars().filter(|c| c.is_alphabetic()).collect();
        let all_caps = letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase());
        let capitalised = !all_caps && raw.chars().next().is_some_and(char::is_uppercase);
        let lower = raw.to_lowercase().replace('’', "'");
        let word = match language {
            "en" => detach_english(&lower),
            "fr" => detach_french(&lower),
            _ => lower,
        };
        if !word.is_empty() {
            let numeric = word.chars().any(|c| c.is_ascii_digit());
            out.push(Token { text: word, capitalised, all_caps, sentence_initial, numeric });
        }
    }
    out
}

/// Removes English clitics: possessive "'s", negation "n't" and the contracted auxiliaries.
fn detach_english(word: &str) -> String {
    match word {
        "can't" => return "can".into(),
        "won't" => return "will".into(),
        "shan't" => return "shall".into(),
        _ => {}
    }
    if let Some(stem) = word.strip_suffix("n't") {
        return stem.to_string();
    }
    if let Some((stem, clitic)) = word.rsplit_once('\'') {
        if matches!(clitic, "s" | "ll" | "ve" | "re" | "d" | "m") {
            return stem.to_string();
        }
    }
    word.to_string()
}

/// Elided French articles and pronouns that attach to the next word with an apostrophe.
const ELISIONS: &[&str] = &["l", "d", "j", "qu", "n", "s", "c", "m", "t", "jusqu", "lorsqu", "puisqu", "quoiqu"];
/// Pronouns that follow a verb with a hyphen in questions and incises ("dit-il", "a-t-elle").
const INVERTED: &[&str] = &[
    "il", "elle", "on", "ils", "elles", "je", "tu", "nous", "vous", "ce", "t", "moi", "toi", "le", "la", "les", "lui",
    "leur", "y", "en",
];

/// Removes French elisions ("l'homme" → "homme") and inverted pronouns ("répondit-il" → "répondit").
fn detach_french(word: &str) -> String {
    let mut word = word;
    while let Some((head, tail)) = word.split_once('\'') {
        if ELISIONS.contains(&head) {
            word = tail;
        } else {
            break;
        }
    }
    let mut parts: Vec<&str> = word.split('-').collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| INVERTED.contains(p)) {
        parts.pop();
    }
    parts.join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sentences_but_not_after_abbreviations() {
        let s = sentences("M. Fogg arriva.  Il dit:\n«Partons!» Puis il partit… Fin");
        assert_eq!(s, vec!["M. Fogg arriva.", "Il dit: «Partons!»", "Puis il partit…", "Fin"]);
        let s = sentences("‘What a curious feeling!’ said Alice. ‘Oh!’ She ran.");
        assert_eq!(s, vec!["‘What a curious feeling!’ said Alice.", "‘Oh!’", "She ran."]);
    }

    #[test]
    fn tokenises_english_with_clitics_and_hyphens() {
        let t = tokens("‘Alice’s rabbit-hole,’ she didn’t say, 1872", "en");
        let words: Vec<_> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(words, vec!["alice", "rabbit-hole", "she", "did", "say", "1872"]);
        assert!(t[0].capitalised && t[0].sentence_initial);
        assert!(!t[2].sentence_initial && t[5].numeric);
    }

    #[test]
    fn tokenises_french_elisions_and_inversions() {
        let t = tokens("L'homme, répondit-il, viendra aujourd'hui jusqu'à Suez--peut-être.", "fr");
        let words: Vec<_> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(words, vec!["homme", "répondit", "viendra", "aujourd'hui", "à", "suez", "peut-être"]);
        assert!(t[5].capitalised && !t[5].sentence_initial);
    }
}
