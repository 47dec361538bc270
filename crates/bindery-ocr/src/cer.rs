//! Character error rate, the accuracy measure of OCR: how many single-character edits turn the recognised text into
//! the reference, per reference character. Bindery uses it to compare engines and settings on the ground-truth corpus.

use unicode_normalization::UnicodeNormalization;

/// Normalises text so that only real recognition differences count, applied identically to reference and hypothesis:
///
/// 1. Unicode NFC, because ground truth is often stored decomposed (NFD: `e` + combining acute) while Tesseract emits
///    precomposed characters (`é`); both are the same text.
/// 2. `¬` becomes `-`: transcriptions of old prints (the French corpus) mark a line-end hyphenation with `¬` where the
///    page shows an ordinary hyphen, which is what an OCR engine reads. We keep the hyphen rather than joining the word
///    because the engine does not join it either; the mapping only makes the two spellings of the same mark agree.
/// 3. Every run of whitespace (spaces, tabs, line and page breaks) becomes one space, and the ends are trimmed, because
///    line breaks are layout, not text: some ground truth has one paragraph per line, Tesseract one line per line.
pub fn normalise(text: &str) -> String {
    let nfc: String = text.nfc().map(|c| if c == '¬' { '-' } else { c }).collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Character error rate of `hypothesis` against `reference`, both passed through [`normalise`] first: the Levenshtein
/// distance over Unicode scalar values divided by the reference length. 0.0 is perfect; it can exceed 1.0 when the
/// hypothesis has many insertions. An empty reference gives 0.0 for an empty hypothesis and 1.0 otherwise.
pub fn cer(reference: &str, hypothesis: &str) -> f64 {
    let reference: Vec<char> = normalise(reference).chars().collect();
    let hypothesis: Vec<char> = normalise(hypothesis).chars().collect();
    if reference.is_empty() {
        return if hypothesis.is_empty() { 0.0 } else { 1.0 };
    }
    levenshtein(&reference, &hypothesis) as f64 / reference.len() as f64
}

/// Edit distance with unit costs, in O(len(a) × len(b)) time and O(len(b)) memory (pages are a few thousand chars).
fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein(&chars("kitten"), &chars("sitting")), 3);
        assert_eq!(levenshtein(&chars(""), &chars("abc")), 3);
        assert_eq!(levenshtein(&chars("abc"), &chars("")), 3);
        assert_eq!(levenshtein(&chars("flaw"), &chars("lawn")), 2);
        // Non-ASCII letters count as one character each, not as their UTF-8 bytes.
        assert_eq!(levenshtein(&chars("été"), &chars("ete")), 2);
    }

    #[test]
    fn normalise_composes_collapses_and_maps_hyphenation() {
        let nfd = "e\u{301}te\u{301}"; // "été" decomposed, as in the French ground truth.
        assert_eq!(normalise(nfd), "\u{e9}t\u{e9}");
        assert_eq!(normalise("  a\n\nb\t c \r\n"), "a b c");
        assert_eq!(normalise("feuil¬\nlets"), "feuil- lets");
        assert_eq!(normalise("feuil¬\nlets"), normalise("feuil-\nlets"));
    }

    #[test]
    fn cer_is_edit_rate_over_normalised_reference() {
        assert_eq!(cer("abcd", "abcd"), 0.0);
        assert_eq!(cer("abcd", "abxd"), 0.25);
        assert_eq!(cer("abcd", "abcdef"), 0.5);
        // Decomposed vs precomposed accents and line layout are not errors.
        assert_eq!(cer("cafe\u{301}\nnoir", "caf\u{e9} noir"), 0.0);
        assert_eq!(cer("", ""), 0.0);
        assert_eq!(cer("", "x"), 1.0);
        assert!(cer("ab", "xyzw") > 1.0);
    }
}
