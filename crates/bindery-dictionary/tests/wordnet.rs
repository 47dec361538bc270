//! WordNet reader against the real database from Debian's `wordnet-base`; skipped when it is not installed.

mod common;

use bindery_dictionary::Pos;

#[test]
fn morphy_uses_exception_lists_and_detachment_rules() {
    let Some(wn) = common::wordnet() else { return };
    assert!(wn.morphy("mice").contains(&(Pos::Noun, "mouse".to_string())));
    assert!(wn.morphy("running").contains(&(Pos::Verb, "run".to_string())));
    let better = wn.morphy("better");
    assert!(better.contains(&(Pos::Adj, "good".to_string())), "{better:?}");
    assert!(better.contains(&(Pos::Adv, "well".to_string())), "{better:?}");
    // Regular rules, checked against the index.
    assert!(wn.morphy("glasses").contains(&(Pos::Noun, "glass".to_string())));
    assert!(wn.morphy("curiouser").contains(&(Pos::Adj, "curious".to_string())));
    assert!(wn.morphy("hurried").contains(&(Pos::Verb, "hurry".to_string())));
    assert!(!wn.morphy("glass").iter().any(|(_, l)| l == "glas"));
    assert!(wn.morphy("xyzzyplugh").is_empty());
    assert_eq!(wn.best_lemma("running"), Some((Pos::Verb, "run".to_string())));
    assert_eq!(wn.best_lemma("mice"), Some((Pos::Noun, "mouse".to_string())));
}

#[test]
fn definitions_come_from_the_data_files() {
    let Some(wn) = common::wordnet() else { return };
    let rabbit = wn.definitions("rabbit", Some(Pos::Noun), 5);
    assert!(!rabbit.is_empty());
    assert!(rabbit.iter().all(|d| d.pos == "noun" && !d.gloss.contains('"')));
    assert!(rabbit.iter().any(|d| d.gloss.contains("burrowing")), "{rabbit:?}");
    // Examples are split off the gloss: WordNet's first sense of "curious" has one quoted example.
    let curious = wn.definitions("curious", None, 3);
    assert_eq!(curious.first().map(|d| d.pos.as_str()), Some("adj"));
    assert!(curious.iter().any(|d| !d.examples.is_empty()), "{curious:?}");
    // Inflected input is reduced first, and `max` is honoured.
    assert_eq!(wn.definitions("mice", Some(Pos::Noun), 2).len(), 2);
    assert!(wn.definitions("xyzzyplugh", None, 3).is_empty());
}

#[test]
fn frequency_reflects_tag_counts() {
    let Some(wn) = common::wordnet() else { return };
    let (common_word, rare_word) = (wn.frequency("good"), wn.frequency("waistcoat"));
    assert!(common_word > rare_word, "good {common_word} vs waistcoat {rare_word}");
    assert!(wn.max_frequency() >= common_word);
    assert_eq!(wn.frequency("xyzzyplugh"), 0);
    assert_eq!(wn.frequency("Good"), common_word, "lookups are case-insensitive");
}

#[test]
fn load_time_is_printed() {
    let start = std::time::Instant::now();
    let Some(wn) = common::wordnet() else { return };
    eprintln!("WordNet loaded from {} in {:?}: {wn:?}", wn.dir().display(), start.elapsed());
}
