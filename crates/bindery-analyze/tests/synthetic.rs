//! The analyzer end to end on small books written for the test: aliases, places, dialogue
//! attribution, scenes and sentiment, in English and French.

use std::sync::Arc;

use bindery_analyze::{analyze_book, Analysis, Analyzer, Offline};
use bindery_core::book::{Book, Chapter};

fn book(language: &str, chapters: &[&[&str]]) -> Book {
    Book {
        language: language.into(),
        chapters: chapters
            .iter()
            .enumerate()
            .map(|(i, paragraphs)| Chapter {
                index: i as u32 + 1,
                title: format!("Chapter {}", i + 1),
                paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
                first_page: None,
            })
            .collect(),
        ..Book::default()
    }
}

fn french() -> Book {
    book(
        "fr",
        &[
            &[
                "Phileas Fogg demeurait à Londres, dans une maison tranquille. Le matin, Mr. Fogg quitta Londres sans un mot.",
                "«Vous êtes prêt? demanda Phileas Fogg.",
                "--Oui, monsieur, répondit Passepartout.",
                "«Partons pour Bombay, dit Fogg.",
                "Passepartout suivit son maître vers la gare de Londres. Fogg ne disait rien.",
            ],
            &[
                "À Bombay, Passepartout courut dans la ville de Bombay. Il admirait les pagodes de Bombay avec bonheur.",
                "«Quelle joie! s'écria Passepartout. Quel plaisir merveilleux!",
                "Mr. Fogg, calme, attendait en Inde le départ du train. Passepartout riait avec Fogg.",
            ],
        ],
    )
}

#[test]
fn french_names_merge_and_places_separate() {
    let analysis = analyze_book(&french());
    let fogg = analysis.characters.iter().find(|c| c.name == "Phileas Fogg").expect("Phileas Fogg found");
    assert!(fogg.aliases.iter().any(|a| a == "Fogg") && fogg.aliases.iter().any(|a| a == "Mr. Fogg"), "{fogg:?}");
    assert_eq!(fogg.chapters, [1, 2]);
    assert_eq!(fogg.first_chapter, 1);
    assert!(analysis.characters.iter().any(|c| c.name == "Passepartout"));
    let places: Vec<&str> = analysis.places.iter().map(|p| p.name.as_str()).collect();
    assert!(places.contains(&"Londres") && places.contains(&"Bombay"), "{places:?}");
    assert!(!analysis.characters.iter().any(|c| c.name == "Bombay" || c.name == "Londres"));
}

#[test]
fn french_dialogue_is_attributed() {
    let analysis = analyze_book(&french());
    let lines = &analysis.chapters[0].dialogue;
    let speakers: Vec<Option<&str>> = lines.iter().map(|l| l.speaker.as_deref()).collect();
    assert_eq!(speakers, [Some("Phileas Fogg"), Some("Passepartout"), Some("Phileas Fogg")]);
    assert_eq!(lines[1].paragraph, 2);
    assert!(analysis.chapters[1].sentiment > 0.0);
}

#[test]
fn english_dialogue_and_scenes() {
    let mut first: Vec<String> = vec![
        "Alice sat in the garden with the Hatter. The Hatter poured the tea.".into(),
        "‘Have some wine,’ the Hatter said in an encouraging tone.".into(),
        "‘I don’t see any wine,’ replied Alice.".into(),
        "‘There isn’t any,’ said the Hatter.".into(),
        "The Hatter laughed, and Alice laughed too, happy and delighted.".into(),
        "* * *".into(),
        "Far away, the Queen shouted in a furious rage at the Knave. The Knave trembled in terror.".into(),
        "‘Off with his head!’ screamed the Queen, and the Knave was afraid.".into(),
    ];
    first.push("The Queen glared at the Knave with cruel anger.".into());
    let refs: Vec<&str> = first.iter().map(String::as_str).collect();
    let analysis = analyze_book(&book("en", &[&refs]));
    let chapter = &analysis.chapters[0];
    let speakers: Vec<Option<&str>> = chapter.dialogue.iter().map(|l| l.speaker.as_deref()).collect();
    assert_eq!(speakers, [Some("Hatter"), Some("Alice"), Some("Hatter"), Some("Queen")]);
    assert_eq!(chapter.scenes.len(), 2);
    assert_eq!((chapter.scenes[0].first_paragraph, chapter.scenes[0].last_paragraph), (0, 4));
    assert_eq!((chapter.scenes[1].first_paragraph, chapter.scenes[1].last_paragraph), (6, 8));
    assert!(chapter.scenes[0].characters.contains(&"Alice".to_string()));
    assert!(chapter.scenes[1].characters.contains(&"Queen".to_string()));
    assert!(!chapter.scenes[1].characters.contains(&"Alice".to_string()));
    assert!(!chapter.summary.is_empty() && chapter.summary.len() < refs.concat().len());
}

#[test]
fn empty_books_get_an_empty_analysis() {
    let analysis = analyze_book(&Book { language: "en".into(), ..Book::default() });
    assert!(analysis.summary.is_empty() && analysis.chapters.is_empty() && analysis.characters.is_empty());
    let json = serde_json::to_string(&analysis).unwrap();
    let back: Analysis = serde_json::from_str(&json).unwrap();
    assert_eq!(back, analysis);
}

#[tokio::test]
async fn the_offline_analyzer_runs_on_a_blocking_thread() {
    let analyzer = Offline;
    assert_eq!(analyzer.name(), "offline");
    let analysis = analyzer.analyze(Arc::new(french()), &Default::default()).await.unwrap();
    assert_eq!(analysis.analyzer, "offline");
    assert_eq!(analysis, analyze_book(&french()));
}

/// A sentence opening with a lone initial ("B. et ...", as in Candide's
/// letters) is not a mention; it once underflowed an index.
#[test]
fn a_lone_initial_at_a_sentence_start_is_not_a_character() {
    let b = book(
        "fr",
        &[&["B. et moi partîmes. Candide revint le soir.", "Candide dit bonjour à Cunégonde. Candide rit."]],
    );
    let a = analyze_book(&b);
    assert!(a.characters.iter().all(|c| c.name != "B" && c.name != "B."), "{:?}", a.characters);
    assert!(a.characters.iter().any(|c| c.name == "Candide"), "{:?}", a.characters);
}
