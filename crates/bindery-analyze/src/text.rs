//! Sentence splitting and tokenisation for English and French prose. Everything else in the
//! analyzer works on the sentences and tokens produced here, so the rules that are easy to get
//! wrong live in one place: abbreviations ("Mr.", "M.", "Mme"), single-letter initials, curly
//! apostrophes that double as closing quotes, French elision ("l'Inde") and dialogue openers
//! (‘ « “ -- —) after which a capital letter says nothing about proper nouns.

use crate::words::is_stop;

/// The languages the analyzer has word lists for; anything else is treated as English.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    pub fn from_code(code: &str) -> Lang {
        if code.to_ascii_lowercase().starts_with("fr") {
            Lang::Fr
        } else {
            Lang::En
        }
    }
}

/// One token of a sentence: a word or a punctuation mark.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// The word as written, with curly apostrophes normalised to `'`; punctuation as itself ("--" for dashes).
    pub text: String,
    pub lower: String,
    pub word: bool,
    /// Starts with an upper-case letter.
    pub cap: bool,
    /// At least two letters, all upper case ("VERY"): emphasis, not a name.
    pub all_caps: bool,
    /// First word of a sentence or of a quotation, where a capital is expected anyway.
    pub initial: bool,
    /// Followed by an English possessive "'s", which the tokenizer strips.
    pub possessive: bool,
}

/// A sentence: its text, borrowed from the book, and the language to tokenise it in. Tokens are
/// made when a step asks for them and dropped when it is done: a book's tokens held at once
/// would cost many times the book's size, and tokenising again is linear.
#[derive(Clone, Copy, Debug)]
pub struct Sentence<'a> {
    pub text: &'a str,
    pub lang: Lang,
}

impl<'a> Sentence<'a> {
    pub fn new(text: &'a str, lang: Lang) -> Sentence<'a> {
        Sentence { text, lang }
    }

    /// The sentence's word and punctuation tokens.
    pub fn tokens(&self) -> Vec<Token> {
        tokenize(self.text, self.lang)
    }
}

/// A run of text without sentence punctuation is cut into pieces of at most this many bytes, at
/// whitespace. No sentence of real prose comes near it; it bounds what one sentence's tokens cost
/// when a file has no full stops at all.
pub const MAX_SENTENCE_BYTES: usize = 64 * 1024;

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "st", "mt", "jr", "sr", "messrs", "mme", "mmes", "mlle", "mlles", "mm", "me", "mgr", "vs",
    "etc", "cf", "no", "esq", "capt", "col", "gen", "rev", "prof",
];

const CLOSERS: &[char] = &['’', '”', '»', '"', ')', ']', '\''];
const OPENERS: &[char] = &['‘', '“', '«', '"', '(', '['];

/// Splits a paragraph into sentences, keeping each sentence's text verbatim (trimmed). Works on
/// byte offsets into the paragraph, so it allocates nothing per character.
pub fn split_sentences(paragraph: &str) -> Vec<&str> {
    let len = paragraph.len();
    let is_terminator = |c: char| matches!(c, '.' | '!' | '?' | '…');
    // The offset of the first character at or after `from` that `keep` does not accept.
    let skip = |from: usize, keep: &dyn Fn(char) -> bool| {
        from + paragraph[from..].find(|d: char| !keep(d)).unwrap_or(len - from)
    };
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut i = 0usize;
    while let Some(c) = paragraph[i..].chars().next() {
        if !is_terminator(c) {
            i += c.len_utf8();
            continue;
        }
        let j = skip(i + c.len_utf8(), &|d| is_terminator(d) || CLOSERS.contains(&d));
        let Some(after) = paragraph[j..].chars().next() else { break };
        if !after.is_whitespace() {
            i = j;
            continue;
        }
        let k = skip(j, &char::is_whitespace);
        let mut rest = paragraph[k..].chars();
        let Some(next) = rest.next() else { break };
        let dash = next == '—' || (next == '-' && rest.next() == Some('-'));
        let starts_new = next.is_uppercase() || next.is_ascii_digit() || OPENERS.contains(&next) || dash;
        // A full stop right before the space (no closer or second stop) may end an abbreviation.
        let abbreviation = c == '.' && j == i + 1 && is_abbreviation(&paragraph[..i]);
        if starts_new && !abbreviation {
            push_trimmed(&mut out, &paragraph[start..j]);
            start = k;
        }
        i = k;
    }
    push_trimmed(&mut out, &paragraph[start..]);
    out
}

/// Pushes a trimmed sentence, cut at whitespace into pieces of at most [`MAX_SENTENCE_BYTES`].
fn push_trimmed<'a>(out: &mut Vec<&'a str>, s: &'a str) {
    let mut s = s.trim();
    while s.len() > MAX_SENTENCE_BYTES {
        let mut cut = MAX_SENTENCE_BYTES;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        // The last whitespace before the limit, or the limit itself in a text without any.
        let cut = s[..cut].rfind(char::is_whitespace).filter(|&w| w > 0).unwrap_or(cut);
        out.push(&s[..cut]);
        s = s[cut..].trim_start();
    }
    if !s.is_empty() {
        out.push(s);
    }
}

/// Whether the word just before a full stop is an abbreviation or an initial ("W." in "Stamp W. Proctor").
fn is_abbreviation(before: &str) -> bool {
    let word = &before[before.trim_end_matches(char::is_alphabetic).len()..];
    if word.is_empty() {
        return false;
    }
    let single_capital = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
    single_capital || ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}

const ELISIONS: &[&str] =
    &["l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu", "presqu", "quelqu"];

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '’'
}

/// Splits a sentence into word and punctuation tokens.
pub fn tokenize(sentence: &str, lang: Lang) -> Vec<Token> {
    let chars: Vec<char> = sentence.chars().collect();
    let n = chars.len();
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        if c.is_whitespace() || c == '_' {
            i += 1;
            continue;
        }
        if !c.is_alphanumeric() {
            if c == '-' && i + 1 < n && chars[i + 1] == '-' {
                push_punct(&mut tokens, "--");
                i += 2;
            } else {
                let text = if c == '—' || c == '–' { "--".to_string() } else { c.to_string() };
                push_punct(&mut tokens, &text);
                i += 1;
            }
            continue;
        }
        let mut word = String::new();
        while i < n {
            let c = chars[i];
            let joins =
                (c == '-' || is_apostrophe(c)) && i + 1 < n && chars[i + 1].is_alphanumeric() && !word.is_empty();
            if c.is_alphanumeric() {
                word.push(c);
                i += 1;
            } else if joins && is_apostrophe(c) {
                let lower = word.to_lowercase();
                if lang == Lang::Fr && ELISIONS.contains(&lower.as_str()) {
                    word.push('\'');
                    i += 1;
                    break;
                }
                // "Alice’s" is a name and a possessive; "it’s" and "that’s" stay whole.
                let rest_is_s = matches!(chars[i + 1], 's' | 'S') && (i + 2 >= n || !chars[i + 2].is_alphanumeric());
                let name = word.chars().next().is_some_and(char::is_uppercase) && !is_stop(&lower, lang);
                if lang == Lang::En && rest_is_s && name {
                    i += 2;
                    push_word(&mut tokens, word, true);
                    word = String::new();
                    break;
                }
                word.push('\'');
                i += 1;
            } else if joins {
                word.push('-');
                i += 1;
            } else {
                break;
            }
        }
        if !word.is_empty() {
            push_word(&mut tokens, word, false);
        }
    }
    tokens
}

fn push_punct(tokens: &mut Vec<Token>, text: &str) {
    tokens.push(Token {
        text: text.to_string(),
        lower: text.to_string(),
        word: false,
        cap: false,
        all_caps: false,
        initial: false,
        possessive: false,
    });
}

fn push_word(tokens: &mut Vec<Token>, word: String, possessive: bool) {
    let initial = match tokens.iter().rev().find(|t| t.word || is_opener(&t.text) || t.text == ":") {
        None => true,
        Some(prev) => !prev.word,
    };
    let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    let cap = word.chars().next().is_some_and(char::is_uppercase);
    let all_caps = letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase());
    tokens.push(Token { lower: word.to_lowercase(), text: word, word: true, cap, all_caps, initial, possessive });
}

fn is_opener(text: &str) -> bool {
    text == "--" || text.chars().next().is_some_and(|c| OPENERS.contains(&c))
}

/// Folds a lower-case word to a crude lemma so that plurals merge with singulars ("rabbits" and
/// "rabbit", "chapeaux" and "chapeau"). Deliberately conservative: it never strips more than a
/// plural ending.
pub fn lemma(lower: &str, lang: Lang) -> String {
    let len = lower.chars().count();
    if len <= 3 {
        return lower.to_string();
    }
    match lang {
        Lang::En => {
            if len > 4 && lower.ends_with("ies") {
                format!("{}y", &lower[..lower.len() - 3])
            } else if lower.ends_with("sses") || lower.ends_with("xes") || lower.ends_with("ches") {
                lower[..lower.len() - 2].to_string()
            } else if lower.ends_with('s') && !lower.ends_with("ss") && !lower.ends_with("us") && !lower.ends_with("is")
            {
                lower[..lower.len() - 1].to_string()
            } else {
                lower.to_string()
            }
        }
        Lang::Fr => {
            if (lower.ends_with('s') && !lower.ends_with("ss")) || lower.ends_with('x') {
                lower[..lower.len() - 1].to_string()
            } else {
                lower.to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviations_and_initials_do_not_end_sentences() {
        assert_eq!(
            split_sentences("Mr. Fogg arrived at noon. He left at once."),
            ["Mr. Fogg arrived at noon.", "He left at once."]
        );
        assert_eq!(
            split_sentences("M. Dupont et Mme Durand sont là. Ils partent."),
            ["M. Dupont et Mme Durand sont là.", "Ils partent."]
        );
        assert_eq!(
            split_sentences("Stamp W. Proctor fired. Nobody moved."),
            ["Stamp W. Proctor fired.", "Nobody moved."]
        );
    }

    #[test]
    fn quotations_and_dashes_split_only_before_a_new_sentence() {
        assert_eq!(
            split_sentences("‘Oh dear! I shall be late!’ said the Rabbit. Alice ran."),
            ["‘Oh dear!", "I shall be late!’ said the Rabbit.", "Alice ran."]
        );
        assert_eq!(
            split_sentences("«Cela me va!» se dit Passepartout. «Tout à fait.» --Non, dit-il."),
            ["«Cela me va!» se dit Passepartout.", "«Tout à fait.»", "--Non, dit-il."]
        );
        assert_eq!(split_sentences("Wait... what? No."), ["Wait... what?", "No."]);
    }

    #[test]
    fn tokens_handle_elision_possessives_and_openers() {
        let toks = tokenize("Il partit pour l'Inde avec Passepartout.", Lang::Fr);
        let words: Vec<&str> = toks.iter().filter(|t| t.word).map(|t| t.text.as_str()).collect();
        assert_eq!(words, ["Il", "partit", "pour", "l'", "Inde", "avec", "Passepartout"]);
        let toks = tokenize("She took Alice’s hand and said ‘Hello’ to the Hatter.", Lang::En);
        let alice = toks.iter().find(|t| t.text == "Alice").unwrap();
        assert!(alice.possessive && !alice.initial);
        assert!(toks.iter().find(|t| t.text == "Hello").unwrap().initial);
        assert!(toks[0].initial);
        let toks = tokenize("It’s VERY late", Lang::En);
        assert_eq!(toks[0].text, "It's");
        assert!(toks[1].all_caps);
    }

    #[test]
    fn lemmas_merge_plurals() {
        assert_eq!(lemma("rabbits", Lang::En), lemma("rabbit", Lang::En));
        assert_eq!(lemma("stories", Lang::En), "story");
        assert_eq!(lemma("glass", Lang::En), "glass");
        assert_eq!(lemma("chapeaux", Lang::Fr), "chapeau");
        assert_eq!(lemma("voyageurs", Lang::Fr), "voyageur");
    }
}
