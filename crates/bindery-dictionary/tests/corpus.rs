//! Dictionaries of real books from the shared corpus: Alice (English, with WordNet) and Le Tour du monde en
//! quatre-vingts jours (French, no definitions). Skipped when the corpus or WordNet is absent.

mod common;

use std::time::Instant;

use bindery_dictionary::{build, Dictionary, Options};

/// Properties every dictionary must have, whatever the language.
fn check_common_properties(book: &bindery_core::book::Book, dict: &Dictionary) {
    assert!(!dict.entries.is_empty());
    for pair in dict.entries.windows(2) {
        let ordered =
            pair[0].rarity > pair[1].rarity || (pair[0].rarity == pair[1].rarity && pair[0].lemma < pair[1].lemma);
        assert!(ordered, "{} before {}", pair[0].lemma, pair[1].lemma);
    }
    let (rarest, commonest) = (&dict.entries[0], dict.entries.last().expect("entries"));
    assert!(rarest.rarity > commonest.rarity, "{} vs {}", rarest.lemma, commonest.lemma);
    assert!(dict.entries.iter().all(|e| (0.0..=1.0).contains(&e.rarity) && e.frequency >= 1));
    // Every entry's first sentence really contains one of its forms, and comes from an existing chapter.
    for e in &dict.entries {
        let sentence = e.first.sentence.to_lowercase().replace('’', "'");
        assert!(e.forms.iter().any(|f| sentence.contains(f.as_str())), "{}: {}", e.lemma, e.first.sentence);
        assert!(book.chapters.iter().any(|c| c.index == e.first.chapter));
    }
    let total: u64 = dict.entries.iter().map(|e| u64::from(e.frequency)).sum();
    assert!(total <= book.words() as u64, "{total} counted words, {} in the book", book.words());
}

#[test]
fn alice_dictionary_has_definitions_and_general_rarity() {
    let Some(path) = common::corpus_book("en-alice-in-wonderland.txt") else { return };
    let Some(wn) = common::wordnet() else { return };
    let book = common::split_book(&path, "en", |p| p.starts_with("CHAPTER "));
    assert_eq!(book.chapters.len(), 12);
    let start = Instant::now();
    let dict = build(&book, Some(&wn), &Options { max_entries: usize::MAX, ..Options::default() });
    println!("alice: {} entries in {:?}", dict.entries.len(), start.elapsed());
    check_common_properties(&book, &dict);

    let curious = dict.lookup("curiouser").expect("curiouser is an inflected form of curious");
    assert_eq!(curious.lemma, "curious");
    assert_eq!(curious.pos.as_deref(), Some("adj"));
    assert!(!curious.definitions.is_empty() && curious.definitions.iter().all(|d| !d.gloss.is_empty()));
    assert!(curious.first.sentence.to_lowercase().contains("curious"));
    assert!((1..=2).contains(&curious.first.chapter), "first in chapter {}", curious.first.chapter);
    assert_eq!(curious.frequency, common::direct_count(&book, &["curious", "curiouser"]));
    assert_eq!(curious.general_frequency, Some(wn.frequency("curious")));

    // Alice is a name (capitalised mid-sentence, never lower-case); stop words never become entries.
    assert!(dict.lookup("alice").is_none());
    assert!(dict.lookup("the").is_none() && dict.lookup("which").is_none());
    // Rarity follows general usage: the rarest tenth of entries has lower WordNet counts than the commonest.
    let known: Vec<u32> = dict.entries.iter().filter_map(|e| e.general_frequency).collect();
    let tenth = known.len() / 10;
    let rare_max = known[..tenth].iter().max().expect("rare");
    let common_min = known[known.len() - tenth..].iter().min().expect("common");
    assert!(rare_max < common_min, "rare {rare_max} vs common {common_min}");
    let with_definitions = dict.entries.iter().filter(|e| !e.definitions.is_empty()).count();
    println!("alice: {with_definitions} entries with definitions");
    assert!(with_definitions * 2 > dict.entries.len());

    // The default cap keeps the rarest entries and survives a JSON round trip.
    let capped = build(&book, Some(&wn), &Options { max_entries: 100, ..Options::default() });
    assert_eq!(capped.entries[..], dict.entries[..100]);
    let json = serde_json::to_string(&capped).expect("serialise");
    assert_eq!(serde_json::from_str::<Dictionary>(&json).expect("deserialise"), capped);
}

#[test]
fn tour_du_monde_dictionary_uses_in_book_rarity() {
    let Some(path) = common::corpus_book("fr-tour-du-monde-80-jours.txt") else { return };
    let book = common::split_book(&path, "fr", common::is_roman);
    assert_eq!(book.chapters.len(), 37);
    let wn = common::wordnet();
    let start = Instant::now();
    // WordNet is English-only: handing it to a French build must change nothing.
    let dict = build(&book, wn.as_ref(), &Options { max_entries: usize::MAX, ..Options::default() });
    println!("tour du monde: {} entries in {:?}", dict.entries.len(), start.elapsed());
    check_common_properties(&book, &dict);
    assert_eq!(dict, build(&book, None, &Options { max_entries: usize::MAX, ..Options::default() }));
    assert!(dict.entries.iter().all(|e| e.definitions.is_empty() && e.general_frequency.is_none()));

    let gentleman = dict.lookup("gentleman").expect("gentleman");
    assert_eq!(gentleman.frequency, common::direct_count(&book, &["gentleman"]));
    assert!(gentleman.first.sentence.contains("gentleman") && gentleman.first.chapter == 1);
    let paquebot = dict.lookup("paquebots").expect("paquebots");
    assert_eq!(paquebot.lemma, "paquebot");
    assert_eq!(paquebot.frequency, common::direct_count(&book, &["paquebot", "paquebots"]));
    assert!(dict.lookup("fogg").is_none(), "Fogg is a proper noun");
    assert!(dict.lookup("les").is_none() && dict.lookup("était").is_none());
    // In-book rarity: a word seen more often in the book is never rarer.
    let most = dict.entries.iter().max_by_key(|e| e.frequency).expect("entries");
    assert!(dict.entries.iter().all(|e| e.rarity >= most.rarity));
    let hapax = dict.entries.iter().filter(|e| e.frequency == 1).count();
    println!("tour du monde: {hapax} words seen once, most frequent {} ({})", most.lemma, most.frequency);
}
