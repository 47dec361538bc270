//! The search contract: one suite run against SQLite and PostgreSQL alike,
//! each case on a fresh store, plus a run over the real Alice text.

use bindery_store::{DynStore, IndexedChapter, SearchHit, SNIPPET_END, SNIPPET_START};

bindery_store::contract!(
    finds_the_chapter_with_a_marked_snippet,
    reindexing_replaces_instead_of_duplicating,
    french_matches_ignore_accents,
    hostile_queries_never_fail,
    phrases_and_exclusions,
    document_filter_restricts_hits,
    remove_document_removes_hits,
    many_occurrences_rank_above_one,
    alice_cheshire_is_in_chapter_six,
);

fn chapter(index: i32, title: &str, text: &str) -> IndexedChapter {
    IndexedChapter { index, title: title.into(), text: text.into() }
}

/// A few sentences of filler, so chapters have realistic lengths.
fn filler(n: usize) -> String {
    "The river ran past the old mill and the fields lay quiet under the sky. ".repeat(n)
}

fn garden_book() -> Vec<IndexedChapter> {
    vec![
        chapter(1, "Arrival", &format!("{} A gardener planted roses by the gate. {}", filler(3), filler(2))),
        chapter(2, "The storm", &format!("{} Thunder rolled over the hills all night long.", filler(4))),
        chapter(3, "Departure", &format!("{} The lighthouse keeper waved goodbye.", filler(4))),
    ]
}

async fn search(store: &DynStore, q: &str) -> Vec<SearchHit> {
    store.search(q, None, 20).await.unwrap_or_else(|e| panic!("search {q:?} failed: {e}"))
}

fn chapters_of(hits: &[SearchHit]) -> Vec<(String, i32)> {
    hits.iter().map(|h| (h.document.clone(), h.chapter)).collect()
}

async fn finds_the_chapter_with_a_marked_snippet(store: DynStore) {
    store.index_document("d1", "en", "The Garden", &garden_book()).await.unwrap();
    let hits = search(&store, "thunder").await;
    assert_eq!(chapters_of(&hits), vec![("d1".to_string(), 2)]);
    let hit = &hits[0];
    assert_eq!((hit.title.as_str(), hit.chapter_title.as_str()), ("The Garden", "The storm"));
    assert!(hit.snippet.contains(&format!("{SNIPPET_START}Thunder{SNIPPET_END}")), "{:?}", hit.snippet);
    assert!(hit.score > 0.0, "higher is better and a match scores above zero: {}", hit.score);
    assert!(search(&store, "zeppelin").await.is_empty());
}

async fn reindexing_replaces_instead_of_duplicating(store: DynStore) {
    store.index_document("d1", "en", "The Garden", &garden_book()).await.unwrap();
    let before = search(&store, "river").await;
    assert_eq!(before.len(), 3);
    store.index_document("d1", "en", "The Garden", &garden_book()).await.unwrap();
    assert_eq!(chapters_of(&search(&store, "river").await), chapters_of(&before));
    // A new version drops what the old one had.
    let revised = vec![chapter(1, "Only", "A single chapter about thunder.")];
    store.index_document("d1", "en", "The Garden, revised", &revised).await.unwrap();
    assert!(search(&store, "river").await.is_empty());
    let hits = search(&store, "thunder").await;
    assert_eq!((hits.len(), hits[0].title.as_str()), (1, "The Garden, revised"));
}

async fn french_matches_ignore_accents(store: DynStore) {
    let ch = vec![
        chapter(1, "La classe", "Le maître regarda l'élève qui récitait sa leçon près de la fenêtre."),
        chapter(2, "Le départ", "Phileas Fogg quitta Londres un mercredi soir."),
    ];
    store.index_document("fr1", "fr", "Le livre", &ch).await.unwrap();
    for q in ["eleve", "élève", "ELEVE", "lecon"] {
        let hits = search(&store, q).await;
        assert_eq!(chapters_of(&hits), vec![("fr1".to_string(), 1)], "query {q:?}");
    }
    let hit = &search(&store, "eleve").await[0];
    assert!(hit.snippet.contains(&format!("{SNIPPET_START}élève{SNIPPET_END}")), "{:?}", hit.snippet);
    assert_eq!(chapters_of(&search(&store, "depart").await), vec![("fr1".to_string(), 2)], "title matches");
}

async fn hostile_queries_never_fail(store: DynStore) {
    store.index_document("d1", "en", "The Garden", &garden_book()).await.unwrap();
    let hostile = [
        "\"",
        "\"\"",
        "AND (",
        "*",
        "-",
        "NEAR(",
        "NEAR(a b, 3)",
        "(",
        ")",
        "OR",
        "NOT",
        "a OR",
        "^river",
        "body:river",
        "\"river",
        "river\"",
        "-river",
        "--",
        "'",
        "\\",
        "river*",
        "'; DROP TABLE x; --",
        "",
        "   ",
        "\u{0}",
        "{river}",
        "%_",
        "\u{301}",
    ];
    for q in hostile {
        assert!(store.search(q, None, 10).await.is_ok(), "query {q:?} failed");
    }
    // Operator words and punctuation are read as text, not syntax.
    let thunder = vec![("d1".to_string(), 2)];
    assert_eq!(chapters_of(&search(&store, "(thunder)").await), thunder);
    assert_eq!(chapters_of(&search(&store, "thunder AND (").await), thunder);
    assert_eq!(search(&store, "\"river").await.len(), 3, "an open quote still finds the word");
    assert_eq!(search(&store, "river*").await.len(), 3);
    // Control characters in indexed text are no error either.
    store.index_document("nul", "en", "Nul\0", &[chapter(1, "t", "binary\0garbage")]).await.unwrap();
    assert_eq!(chapters_of(&search(&store, "garbage").await), vec![("nul".to_string(), 1)]);
}

async fn phrases_and_exclusions(store: DynStore) {
    store.index_document("d1", "en", "The Garden", &garden_book()).await.unwrap();
    assert_eq!(chapters_of(&search(&store, "\"lighthouse keeper\"").await), vec![("d1".to_string(), 3)]);
    assert!(search(&store, "\"keeper lighthouse\"").await.is_empty(), "a phrase keeps its order");
    let without_thunder = chapters_of(&search(&store, "river -thunder").await);
    assert_eq!(without_thunder.len(), 2);
    assert!(!without_thunder.contains(&("d1".to_string(), 2)));
    let either = chapters_of(&search(&store, "roses or lighthouse").await);
    assert_eq!(either.len(), 2);
}

async fn document_filter_restricts_hits(store: DynStore) {
    store.index_document("a", "en", "A", &garden_book()).await.unwrap();
    store.index_document("b", "en", "B", &garden_book()).await.unwrap();
    store.index_document("c", "en", "C", &garden_book()).await.unwrap();
    assert_eq!(search(&store, "thunder").await.len(), 3);
    let only = ["a".to_string(), "c".to_string()];
    let hits = store.search("thunder", Some(&only), 10).await.unwrap();
    let mut docs: Vec<&str> = hits.iter().map(|h| h.document.as_str()).collect();
    docs.sort();
    assert_eq!(docs, vec!["a", "c"]);
    assert!(store.search("thunder", Some(&[]), 10).await.unwrap().is_empty(), "an empty project has no hits");
    assert_eq!(store.search("river", None, 2).await.unwrap().len(), 2, "limit holds");
}

async fn remove_document_removes_hits(store: DynStore) {
    store.index_document("a", "en", "A", &garden_book()).await.unwrap();
    store.index_document("b", "en", "B", &garden_book()).await.unwrap();
    assert_eq!(store.remove_document("a").await.unwrap(), 3);
    let hits = search(&store, "river").await;
    assert!(hits.iter().all(|h| h.document == "b") && hits.len() == 3, "{hits:?}");
    assert_eq!(store.remove_document("a").await.unwrap(), 0, "already gone");
}

async fn many_occurrences_rank_above_one(store: DynStore) {
    // Same length, same words, except for how often "pepper" appears.
    let once = format!("{} Pepper. {}", filler(3), "Salt and sugar. ".repeat(5));
    let often = format!("{} {}", filler(3), "Pepper, pepper. ".repeat(5));
    let ch = vec![chapter(1, "Once", &once), chapter(2, "Often", &often)];
    store.index_document("d1", "en", "Kitchen", &ch).await.unwrap();
    let hits = search(&store, "pepper").await;
    assert_eq!(chapters_of(&hits), vec![("d1".to_string(), 2), ("d1".to_string(), 1)]);
    assert!(hits[0].score > hits[1].score, "{} vs {}", hits[0].score, hits[1].score);
}

/// The real text of Alice, split at its "CHAPTER" headings.
fn alice_chapters() -> Option<Vec<IndexedChapter>> {
    let path = bindery_testkit::corpus("books/en-alice-in-wonderland.txt")?;
    let text = std::fs::read_to_string(path).expect("read Alice");
    let start = text.find("*** START OF").map(|i| i + text[i..].find('\n').unwrap_or(0)).unwrap_or(0);
    let end = text.find("*** END OF").unwrap_or(text.len());
    let mut chapters: Vec<IndexedChapter> = Vec::new();
    for line in text[start..end].lines() {
        if let Some(heading) = line.strip_prefix("CHAPTER ") {
            let title = heading.split_once(". ").map_or(heading, |(_, t)| t);
            chapters.push(chapter(chapters.len() as i32 + 1, title.trim(), ""));
        } else if let Some(current) = chapters.last_mut() {
            current.text.push_str(line);
            current.text.push('\n');
        }
    }
    Some(chapters)
}

async fn alice_cheshire_is_in_chapter_six(store: DynStore) {
    let Some(chapters) = alice_chapters() else { return };
    assert_eq!(chapters.len(), 12, "the splitter finds Alice's twelve chapters");
    store.index_document("alice", "en", "Alice's Adventures in Wonderland", &chapters).await.unwrap();
    let hits = search(&store, "Cheshire").await;
    let first: Vec<i32> = hits.iter().take(2).map(|h| h.chapter).collect();
    assert!(first.contains(&6), "chapter 6 (Pig and Pepper) among the first hits: {first:?}");
    assert_eq!(hits.iter().find(|h| h.chapter == 6).unwrap().chapter_title, "Pig and Pepper");
    assert!(hits.iter().all(|h| h.snippet.contains(&format!("{SNIPPET_START}Cheshire{SNIPPET_END}"))), "{hits:?}");
    let grin = search(&store, "\"grin without a cat\"").await;
    assert_eq!(chapters_of(&grin), vec![("alice".to_string(), 6)]);
}
