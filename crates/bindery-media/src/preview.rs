//! Short narration previews.
//!
//! Listeners sample a chapter before committing to the full audio, and
//! synthesising a whole chapter just to play its first seconds would waste
//! time. The preview is the opening text that fits the requested number of
//! seconds at the speaking rate, cut after a complete sentence so it does not
//! stop mid-thought.

/// Closing punctuation that may follow a sentence end ("…end." » or (end.)).
const CLOSERS: &[char] = &['"', '\'', '»', '”', '’', ')', ']', '*', '_'];
/// Words ending in a full stop that usually do not end a sentence.
const ABBREVIATIONS: &[&str] =
    &["mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "cf", "mme", "mlle", "mm", "no", "pp"];

/// The longest a preview is, in bytes per word of its budget: long words of
/// real prose average under 10 bytes with their space.
pub const MAX_BYTES_PER_WORD: u64 = 16;

/// Returns the beginning of `text` that takes about `seconds` to speak at
/// `words_per_minute`, ending at a sentence end.
///
/// The word budget is `seconds × words_per_minute / 60`; the result never holds
/// more words than that. It ends after the last complete sentence within the
/// budget; when even the first sentence is longer than the budget, it falls back
/// to the last whole word within it. A text that fits entirely is returned whole
/// (trimmed). Punctuation-only tokens, such as the French spaced "!", do not
/// count as words.
///
/// The result is also at most [`MAX_BYTES_PER_WORD`] bytes per word of the
/// budget, so a text whose "words" are megabytes long (no spaces at all)
/// gives a preview of a few hundred bytes, cut at a character boundary,
/// instead of handing the speech synthesiser the whole file.
pub fn preview_text(text: &str, seconds: u32, words_per_minute: u32) -> &str {
    let budget = u64::from(seconds) * u64::from(words_per_minute) / 60;
    let text = text.trim();
    let max_bytes = usize::try_from(budget.saturating_mul(MAX_BYTES_PER_WORD)).unwrap_or(usize::MAX);
    if text.len() > max_bytes {
        let mut cut = max_bytes;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let preview = preview_text(&text[..cut], seconds, words_per_minute);
        // A cut through a word must not leave its beginning as the preview's last "word".
        let ends_in_word = text[cut..].starts_with(|c: char| !c.is_whitespace());
        return match preview.rfind(char::is_whitespace) {
            Some(space) if ends_in_word && preview.len() == cut => preview[..space].trim_end(),
            _ => preview,
        };
    }
    let mut words = 0u64;
    let mut last_word_end = 0usize;
    let mut last_sentence_end: Option<usize> = None;
    for (start, token) in tokens(text) {
        let end = start + token.len();
        let is_word = token.chars().any(char::is_alphanumeric);
        if is_word {
            words += 1;
            if words > budget {
                return &text[..last_sentence_end.unwrap_or(last_word_end)];
            }
            last_word_end = end;
        }
        let core = token.trim_end_matches(CLOSERS);
        if core.is_empty() {
            // A detached closing quote belongs to the sentence that just ended.
            if last_sentence_end == Some(start_of_gap(text, start)) {
                last_sentence_end = Some(end);
            }
        } else if ends_sentence(core) {
            last_sentence_end = Some(end);
        }
    }
    text
}

/// Whitespace-separated tokens with their byte offsets.
fn tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_whitespace().map(move |token| (token.as_ptr() as usize - text.as_ptr() as usize, token))
}

/// The byte offset where the whitespace before `start` begins.
fn start_of_gap(text: &str, start: usize) -> usize {
    text[..start].trim_end().len()
}

fn ends_sentence(core: &str) -> bool {
    if core.ends_with(['!', '?', '…']) {
        return true;
    }
    let Some(stem) = core.strip_suffix('.') else { return false };
    if stem.ends_with('.') {
        // An ellipsis written as "...".
        return true;
    }
    let word = stem.trim_start_matches(|c: char| !c.is_alphanumeric());
    // A lone capital is usually an initial ("M. Fogg", "J. Smith"), except the English pronoun "I".
    let is_initial = word.chars().count() == 1 && word.chars().all(char::is_uppercase) && word != "I";
    !is_initial && !ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}
