//! Putting the pieces together: prepare the book once, find the cast, weigh the terms, then
//! describe each chapter and the whole book.

use bindery_core::book::Book;

use crate::cast::{build_cast, Cast, Kind};
use crate::dialogue::{quoted_text, speaker};
use crate::doc::Doc;
use crate::keywords::{top, weights, Weights};
use crate::model::{Analysis, ChapterAnalysis, Character, DialogueLine, Keyword, Place, Scene};
use crate::scenes::{is_break, split};
use crate::sentiment::Mood;
use crate::summary::{chapter_length, join, pick, score_chapter, Scored};

const BOOK_KEYWORDS: usize = 15;
const CHAPTER_KEYWORDS: usize = 8;
const BOOK_SUMMARY: usize = 4;

/// Analyses a book synchronously. Never fails: an empty book gets an empty analysis.
pub fn analyze_book(book: &Book) -> Analysis {
    let doc = Doc::new(book);
    let cast = build_cast(&doc);
    let weights = weights(&doc);
    // Each chapter's sentences are scored against the book's weights (for the book's summary) and
    // the chapter's own (for the chapter's) in one pass.
    // The book's summary takes at most `per_chapter` sentences from any chapter, so only each
    // chapter's best that many are kept for it.
    let mut book_scored: Vec<Scored> = Vec::new();
    let per_chapter = book_per_chapter(&doc);
    let chapters: Vec<ChapterAnalysis> = (0..doc.chapters.len())
        .map(|c| {
            let lists = [(&weights.book, Some(per_chapter)), (&weights.chapters[c], None)];
            let mut scored = score_chapter(&doc, c, &lists);
            let own = scored.pop().expect("one list per weight map");
            book_scored.append(&mut scored[0]);
            chapter(&doc, c, &cast, &weights, &own)
        })
        .collect();
    Analysis {
        analyzer: "offline".to_string(),
        summary: book_summary(&doc, &book_scored),
        keywords: top(&weights.book, &weights.display, BOOK_KEYWORDS)
            .into_iter()
            .map(|(term, score)| Keyword { term, score })
            .collect(),
        chapters,
        characters: cast
            .entities
            .iter()
            .filter(|e| e.kind == Kind::Character)
            .map(|e| Character {
                name: e.name.clone(),
                aliases: e.aliases.clone(),
                mentions: e.mentions,
                first_chapter: e.chapters.first().map_or(0, |&c| doc.chapters[c].index),
                chapters: e.chapters.iter().map(|&c| doc.chapters[c].index).collect(),
                traits: Vec::new(),
            })
            .collect(),
        places: cast
            .entities
            .iter()
            .filter(|e| e.kind == Kind::Place)
            .map(|e| Place {
                name: e.name.clone(),
                mentions: e.mentions,
                first_chapter: e.chapters.first().map_or(0, |&c| doc.chapters[c].index),
            })
            .collect(),
        model: None,
    }
}

/// The most sentences the book's summary takes from one chapter: its length spread over the chapters.
fn book_per_chapter(doc: &Doc) -> usize {
    BOOK_SUMMARY.div_ceil(doc.chapters.len().max(1))
}

fn book_summary(doc: &Doc, scored: &[Scored]) -> String {
    join(&pick(scored, BOOK_SUMMARY, book_per_chapter(doc)))
}

fn chapter(doc: &Doc, c: usize, cast: &Cast, weights: &Weights, scored: &[Scored]) -> ChapterAnalysis {
    let ch = &doc.chapters[c];
    let mood = Mood::of(ch.paragraphs.iter().flat_map(|p| &p.sentences), doc.lang);
    let mut mentioned: Vec<Vec<usize>> = vec![Vec::new(); ch.paragraphs.len()];
    for (e, entity) in cast.entities.iter().enumerate() {
        for &(_, p) in entity.occurrences.iter().filter(|(oc, _)| *oc == c) {
            mentioned[p].push(e);
        }
    }
    let breaks: Vec<bool> = ch.paragraphs.iter().map(|p| is_break(p.text)).collect();
    let scenes = split(&mentioned, &breaks)
        .into_iter()
        .enumerate()
        .map(|(i, (first, last))| scene(i, first, last, &mentioned, cast, scored))
        .collect();
    let dialogue = ch
        .paragraphs
        .iter()
        .enumerate()
        .filter_map(|(p, paragraph)| {
            let text = quoted_text(paragraph.text)?;
            let speaker = speaker(paragraph, cast, doc.lang).map(|e| cast.entities[e].name.clone());
            Some(DialogueLine { paragraph: p as u32, speaker, text })
        })
        .collect();
    ChapterAnalysis {
        index: ch.index,
        summary: join(&pick(scored, chapter_length(scored.len()), usize::MAX)),
        keywords: top(&weights.chapters[c], &weights.display, CHAPTER_KEYWORDS).into_iter().map(|(t, _)| t).collect(),
        sentiment: mood.sentiment(),
        tonality: mood.tonality().to_string(),
        scenes,
        dialogue,
    }
}

fn scene(i: usize, first: usize, last: usize, mentioned: &[Vec<usize>], cast: &Cast, scored: &[Scored]) -> Scene {
    let mut counts: Vec<(usize, u32)> = Vec::new();
    for &e in mentioned[first..=last].iter().flatten() {
        match counts.iter_mut().find(|(x, _)| *x == e) {
            Some((_, n)) => *n += 1,
            None => counts.push((e, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let names = |kind: Kind| -> Vec<String> {
        counts
            .iter()
            .filter(|(e, _)| cast.entities[*e].kind == kind)
            .map(|(e, _)| cast.entities[*e].name.clone())
            .collect()
    };
    let in_scene = scored.iter().filter(|s| (first..=last).contains(&s.paragraph));
    let best = in_scene.clone().max_by(|a, b| a.score.total_cmp(&b.score).then(b.paragraph.cmp(&a.paragraph)));
    Scene {
        index: i as u32 + 1,
        first_paragraph: first as u32,
        last_paragraph: last as u32,
        characters: names(Kind::Character),
        places: names(Kind::Place),
        summary: best.map(|s| s.text.to_string()).unwrap_or_default(),
        setting: None,
        atmosphere: None,
    }
}
