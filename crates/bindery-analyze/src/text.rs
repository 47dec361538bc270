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

/// A sentence and its tokens.
#[derive(Clone, Debug)]
pub struct Sentence {
    pub text: String,
    pub tokens: Vec<Token>,
}

impl Sentence {
    pub fn parse(text: &str, lang: Lang) -> Sentence {
        Sentence { text: text.to_string(), tokens: tokenize(text, lang) }
    }

    pub fn words(&self) -> impl Iterator<Item = &Token> {
        self.tokens.iter().filter(|t| t.word)
    }
}

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "st", "mt", "jr", "sr", "messrs", "mme", "mmes", "mlle", "mlles", "mm", "me", "mgr", "vs",
    "etc", "cf", "no", "esq", "capt", "col", "gen", "rev", "prof",
];

const CLOSERS: &[char] = &['’', '”', '»', '"', ')', ']', '\''];
const OPENERS: &[char] = &['‘', '“', '«', '"', '(', '['];

/// Splits a paragraph into sentences, keeping each sentence's text verbatim (trimmed).
pub fn split_sentences(paragraph: &str) -> Vec<String> {
    let chars: Vec<(usize, char)> = paragraph.char_indices().collect();
    let n = chars.len();
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut i = 0usize;
    while i < n {
        let c = chars[i].1;
        if !matches!(c, '.' | '!' | '?' | '…') {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < n && (matches!(chars[j].1, '.' | '!' | '?' | '…') || CLOSERS.contains(&chars[j].1)) {
            j += 1;
        }
        if j >= n {
            break;
        }
        if !chars[j].1.is_whitespace() {
            i = j;
            continue;
        }
        let mut k = j;
        while k < n && chars[k].1.is_whitespace() {
            k += 1;
        }
        if k >= n {
            break;
        }
        let next = chars[k].1;
        let dash = next == '—' || (next == '-' && k + 1 < n && chars[k + 1].1 == '-');
        let starts_new = next.is_uppercase() || next.is_ascii_digit() || OPENERS.contains(&next) || dash;
        let abbreviation = c == '.' && j == i + 1 && is_abbreviation(&chars[..i]);
        if starts_new && !abbreviation {
            let end = chars[j].0;
            push_trimmed(&mut out, &paragraph[start..end]);
            start = chars[k].0;
        }
        i = k;
    }
    push_trimmed(&mut out, &paragraph[start..]);
    out
}

fn push_trimmed(out: &mut Vec<String>, s: &str) {
    let s = s.trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
}

/// Whether the word just before a full stop is an abbreviation or an initial ("W." in "Stamp W. Proctor").
fn is_abbreviation(before: &[(usize, char)]) -> bool {
    let word: String = before.iter().rev().take_while(|(_, c)| c.is_alphabetic()).map(|(_, c)| *c).collect();
    let word: String = word.chars().rev().collect();
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
