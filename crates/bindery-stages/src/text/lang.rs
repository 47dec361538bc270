//! Language detection for English and French, by stop-word counts.
//!
//! A book has thousands of function words, so counting the most frequent
//! ones of each language tells them apart reliably without a model.

const EN: &[&str] =
    &["the", "and", "of", "to", "a", "in", "was", "he", "it", "that", "she", "with", "you", "is", "his", "her"];
const FR: &[&str] =
    &["le", "la", "les", "de", "des", "et", "un", "une", "il", "elle", "que", "qui", "est", "dans", "pas", "du"];

/// `"en"`, `"fr"`, or `"und"` (undetermined) when neither clearly wins.
pub fn detect_language(text: &str) -> &'static str {
    let (mut en, mut fr) = (0usize, 0usize);
    for word in text.split(|c: char| !c.is_alphabetic()).take(200_000) {
        if word.is_empty() || word.len() > 5 {
            continue;
        }
        let w = word.to_lowercase();
        en += EN.contains(&w.as_str()) as usize;
        fr += FR.contains(&w.as_str()) as usize;
    }
    match (en, fr) {
        (e, f) if e >= 3 && e > 2 * f => "en",
        (e, f) if f >= 3 && f > 2 * e => "fr",
        _ => "und",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tells_english_from_french() {
        assert_eq!(super::detect_language("The cat sat on the mat and it was happy with the hat."), "en");
        assert_eq!(super::detect_language("Le chat est dans la maison et il dort sur le lit de la chambre."), "fr");
        assert_eq!(super::detect_language("1 2 3"), "und");
    }
}
