//! Narration previews: word budget and sentence boundaries.

mod common;

use bindery_media::preview_text;

fn word_count(text: &str) -> usize {
    text.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric)).count()
}

fn ends_at_sentence(text: &str) -> bool {
    text.trim_end_matches(['"', '\'', '»', '”', '’', ')', ']', '_', ' ']).ends_with(['.', '!', '?', '…'])
}

#[test]
fn cuts_after_the_last_sentence_within_the_budget() {
    // 4 + 4 + 6 words; 10 seconds at 60 wpm allow 10 words, so only the first two sentences fit.
    let text = "The cat sat down. Then it looked around. After that it went to sleep.";
    let preview = preview_text(text, 10, 60);
    assert_eq!(preview, "The cat sat down. Then it looked around.");
    assert_eq!(word_count(preview), 8);
    // One more second of budget does not change the cut, since the third sentence still does not fit.
    assert_eq!(preview_text(text, 11, 60), preview);
    // With 15 words allowed the whole text fits and is returned as is.
    assert_eq!(preview_text(text, 15, 60), text);
}

#[test]
fn french_spaced_punctuation_and_quotes_stay_with_their_sentence() {
    let text = "« Bonjour ! » dit-il. Comment allez-vous ? Très bien, merci beaucoup.";
    assert_eq!(preview_text(text, 1, 60), "« Bonjour ! »");
    assert_eq!(preview_text(text, 3, 60), "« Bonjour ! » dit-il.");
    assert_eq!(preview_text(text, 5, 60), "« Bonjour ! » dit-il. Comment allez-vous ?");
}

#[test]
fn abbreviations_and_initials_do_not_end_sentences() {
    let text = "Mr. Fogg met M. Passepartout at home. They left London that very evening.";
    assert_eq!(preview_text(text, 7, 60), "Mr. Fogg met M. Passepartout at home.");
    assert_eq!(preview_text(text, 3, 60), "Mr. Fogg met", "no sentence fits: falls back to whole words");
}

#[test]
fn a_first_sentence_longer_than_the_budget_falls_back_to_whole_words() {
    let text = "This opening sentence rambles on for quite a number of words before it ever stops.";
    let preview = preview_text(text, 4, 60);
    assert_eq!(preview, "This opening sentence rambles");
    assert_eq!(preview_text(text, 0, 175), "");
}

#[test]
fn corpus_previews_respect_the_budget_and_end_sentences() {
    let Some(corpus) = common::corpus_dir() else { return };
    for (book, marker) in
        [("en-alice-in-wonderland.txt", "CHAPTER I."), ("fr-tour-du-monde-80-jours.txt", "Phileas Fogg")]
    {
        let raw = std::fs::read_to_string(corpus.join("books").join(book)).expect("read book");
        let body = common::gutenberg_body(&raw);
        let text = &body[body.find(marker).expect("marker")..];
        let mut previous = "";
        for seconds in [15, 30, 60, 120, 300] {
            let budget = (seconds * 175 / 60) as usize;
            let preview = preview_text(text, seconds, 175);
            assert!(preview.starts_with(previous), "{book}: a longer budget must extend the shorter preview");
            assert!(word_count(preview) <= budget, "{book}: {} words > budget {budget}", word_count(preview));
            assert!(ends_at_sentence(preview), "{book} {seconds}s: {:?}", &preview[preview.len().saturating_sub(40)..]);
            previous = preview;
        }
        assert!(word_count(previous) > 300, "{book}: five minutes of speech hold far more than 300 words");
    }
}

#[test]
fn a_text_of_enormous_words_gives_a_short_preview() {
    // 30 seconds at 175 wpm allow 87 words, so at most 87 × 16 bytes, whatever one "word" holds.
    let huge = "é".repeat(2 << 20);
    let preview = preview_text(&huge, 30, 175);
    assert!(preview.len() <= 87 * 16 && !preview.is_empty(), "{} bytes", preview.len());
    let text = format!("It began. {huge} and then more");
    assert_eq!(preview_text(&text, 30, 175), "It began.");
}
