//! The reduce step: chunk answers (the model's, or the offline analyzer's for chunks the model could not answer)
//! become one [`Analysis`] of the same shape the offline analyzer produces.
//!
//! The model is trusted for what it is good at (summaries, traits, settings, who speaks) and not for counting:
//! mentions, the chapters a character appears in, and the places of a scene are counted in the text itself.

use crate::chunk::Chunk;
use crate::extraction::Extraction;
use crate::names::{group, normalise, Counter};
use bindery_analyze::{Analysis, ChapterAnalysis, Character, DialogueLine, Place, Scene};
use bindery_core::book::Book;
use std::collections::{BTreeSet, HashMap};

/// How one chunk was answered.
#[derive(Clone, Debug)]
pub enum Answer {
    Model(Extraction),
    /// The model's answer could not be used (after one repair); the offline analysis covers this chunk.
    Offline,
}

const CHAPTER_KEYWORDS: usize = 8;
const MAX_TRAITS: usize = 8;

/// Builds the analysis of the chapters, characters and places; the whole-book summary and keywords are left empty
/// for the caller, which asks for them once the chapters are known. `offline` must be given when any answer is
/// [`Answer::Offline`].
pub fn merge(book: &Book, answers: &[(Chunk, Answer)], offline: Option<&Analysis>) -> Analysis {
    let people = People::collect(book, answers, offline);
    let places = Places::collect(book, answers, offline);
    let chapters = book.chapters.iter().map(|c| chapter(c.index, answers, offline, &people, &places)).collect();
    Analysis {
        analyzer: String::new(),
        summary: String::new(),
        keywords: Vec::new(),
        chapters,
        characters: people.characters,
        places: places.places,
        model: None,
    }
}

/// Everyone the answers name, grouped into people, with counts from the text.
struct People {
    characters: Vec<Character>,
    /// Normalised surface form → canonical name.
    canonical: HashMap<String, String>,
}

impl People {
    fn collect(book: &Book, answers: &[(Chunk, Answer)], offline: Option<&Analysis>) -> People {
        // Each entry: surface forms (name first), traits, the chapter it was named in.
        let mut entries: Vec<(Vec<String>, Vec<String>, u32)> = Vec::new();
        for (chunk, answer) in answers {
            match answer {
                Answer::Model(x) => {
                    for c in &x.characters {
                        let forms = std::iter::once(c.name.clone()).chain(c.aliases.iter().cloned()).collect();
                        entries.push((forms, c.traits.clone(), chunk.chapter));
                    }
                }
                Answer::Offline => {
                    for c in
                        offline.into_iter().flat_map(|o| &o.characters).filter(|c| c.chapters.contains(&chunk.chapter))
                    {
                        let forms = std::iter::once(c.name.clone()).chain(c.aliases.iter().cloned()).collect();
                        entries.push((forms, Vec::new(), chunk.chapter));
                    }
                }
            }
        }
        let groups = group(&entries.iter().map(|e| e.0.clone()).collect::<Vec<_>>());
        let n = groups.iter().max().map_or(0, |m| m + 1);
        let mut forms: Vec<Vec<String>> = vec![Vec::new(); n];
        let mut names: Vec<HashMap<String, u32>> = vec![HashMap::new(); n];
        let mut traits: Vec<Vec<String>> = vec![Vec::new(); n];
        let mut named_in: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); n];
        for ((entry_forms, entry_traits, chapter), &g) in entries.iter().zip(&groups) {
            *names[g].entry(entry_forms[0].clone()).or_default() += 1;
            for f in entry_forms {
                if !forms[g].contains(f) {
                    forms[g].push(f.clone());
                }
            }
            for t in entry_traits {
                let t = t.trim().to_lowercase();
                if !t.is_empty() && !traits[g].contains(&t) && traits[g].len() < MAX_TRAITS {
                    traits[g].push(t);
                }
            }
            named_in[g].insert(*chapter);
        }
        let counts = count_per_chapter(book, &forms);
        let mut canonical = HashMap::new();
        let mut characters: Vec<Character> = (0..n)
            .map(|g| {
                // The fullest name (titles aside: "Mr. Fogg" is one word, "Phileas Fogg" two) the answers gave
                // most often.
                let name = names[g]
                    .iter()
                    .max_by(|a, b| {
                        let words = |s: &str| normalise(s).split(' ').count();
                        words(a.0).cmp(&words(b.0)).then(a.1.cmp(b.1)).then(b.0.cmp(a.0))
                    })
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default();
                for f in &forms[g] {
                    canonical.insert(normalise(f), name.clone());
                }
                let mut chapters: BTreeSet<u32> = named_in[g].clone();
                chapters.extend(counts.iter().filter(|(_, c)| c[g] > 0).map(|(index, _)| *index));
                Character {
                    aliases: forms[g].iter().filter(|f| **f != name).cloned().collect(),
                    mentions: counts.iter().map(|(_, c)| c[g]).sum(),
                    first_chapter: chapters.first().copied().unwrap_or(0),
                    chapters: chapters.into_iter().collect(),
                    traits: traits[g].clone(),
                    name,
                }
            })
            .collect();
        characters.sort_by(|a, b| b.mentions.cmp(&a.mentions).then(a.first_chapter.cmp(&b.first_chapter)));
        People { characters, canonical }
    }

    /// The canonical name for a name an answer used; unknown names are kept as they are.
    fn canonical(&self, name: &str) -> String {
        self.canonical.get(&normalise(name)).cloned().unwrap_or_else(|| name.trim().to_owned())
    }
}

/// Every named place, grouped by normalised name, with counts from the text.
struct Places {
    places: Vec<Place>,
    /// Counts every place's surface forms, in the order of `places`; built once for all scenes.
    counter: Counter,
}

impl Places {
    fn collect(book: &Book, answers: &[(Chunk, Answer)], offline: Option<&Analysis>) -> Places {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut forms: Vec<Vec<String>> = Vec::new();
        let mut named_in: Vec<u32> = Vec::new();
        let mut add = |name: &str, chapter: u32| {
            let key = normalise(name);
            if key.is_empty() {
                return;
            }
            let i = *index.entry(key).or_insert_with(|| {
                forms.push(Vec::new());
                named_in.push(chapter);
                forms.len() - 1
            });
            // Counted in the text as written, and without a leading article ("the Thames" is found as "Thames").
            let bare = name.trim().trim_start_matches("the ").trim_start_matches("The ").to_owned();
            for f in [name.trim().to_owned(), bare] {
                if !forms[i].contains(&f) {
                    forms[i].push(f);
                }
            }
            named_in[i] = named_in[i].min(chapter);
        };
        for (chunk, answer) in answers {
            match answer {
                Answer::Model(x) => x.places.iter().for_each(|p| add(&p.name, chunk.chapter)),
                Answer::Offline => {
                    for p in offline.into_iter().flat_map(|o| &o.places).filter(|p| p.first_chapter <= chunk.chapter) {
                        add(&p.name, chunk.chapter)
                    }
                }
            }
        }
        let counts = count_per_chapter(book, &forms);
        let mut places: Vec<Place> = forms
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let first_counted = counts.iter().find(|(_, c)| c[i] > 0).map(|(index, _)| *index);
                Place {
                    name: f[0].clone(),
                    mentions: counts.iter().map(|(_, c)| c[i]).sum(),
                    first_chapter: first_counted.map_or(named_in[i], |c| c.min(named_in[i])),
                }
            })
            .collect();
        let order: Vec<usize> = {
            let mut o: Vec<usize> = (0..places.len()).collect();
            o.sort_by(|&a, &b| places[b].mentions.cmp(&places[a].mentions).then(a.cmp(&b)));
            o
        };
        let forms: Vec<Vec<String>> = order.iter().map(|&i| forms[i].clone()).collect();
        places = order.into_iter().map(|i| places[i].clone()).collect();
        Places { places, counter: Counter::new(&forms) }
    }

    /// The places whose names occur in `text`, most mentioned first.
    fn in_text(&self, text: &str) -> Vec<String> {
        let mut n = vec![0; self.places.len()];
        self.counter.count(text, &mut n);
        let mut found: Vec<usize> = (0..n.len()).filter(|&i| n[i] > 0).collect();
        found.sort_by(|&a, &b| n[b].cmp(&n[a]).then(a.cmp(&b)));
        found.into_iter().map(|i| self.places[i].name.clone()).collect()
    }
}

/// Per chapter (by index), how often each entity's forms occur.
fn count_per_chapter(book: &Book, forms: &[Vec<String>]) -> Vec<(u32, Vec<u32>)> {
    let counter = Counter::new(forms);
    book.chapters
        .iter()
        .map(|c| {
            let mut n = vec![0; forms.len()];
            for p in &c.paragraphs {
                counter.count(p, &mut n);
            }
            (c.index, n)
        })
        .collect()
}

fn chapter(
    index: u32,
    answers: &[(Chunk, Answer)],
    offline: Option<&Analysis>,
    people: &People,
    places: &Places,
) -> ChapterAnalysis {
    let parts: Vec<&(Chunk, Answer)> = answers.iter().filter(|(c, _)| c.chapter == index).collect();
    let offline_chapter = offline.and_then(|o| o.chapters.iter().find(|c| c.index == index));
    let mut out = ChapterAnalysis {
        index,
        summary: String::new(),
        keywords: Vec::new(),
        sentiment: 0.0,
        tonality: "neutral".into(),
        scenes: Vec::new(),
        dialogue: Vec::new(),
    };
    let mut summaries: Vec<String> = Vec::new();
    let (mut weighted, mut weight, mut largest) = (0.0f64, 0usize, 0usize);
    for (chunk, answer) in parts {
        let size = chunk.chars().max(1);
        let in_chunk = |p: u32| (chunk.first_paragraph..=chunk.last_paragraph).contains(&p);
        let (sentiment, tonality) = match answer {
            Answer::Model(x) => {
                summaries.push(x.summary.trim().to_owned());
                out.keywords.extend(x.keywords.iter().map(|k| k.trim().to_owned()));
                for s in &x.scenes {
                    let text =
                        (s.first_paragraph..=s.last_paragraph).filter_map(|p| chunk.paragraph(p)).collect::<Vec<_>>();
                    out.scenes.push(Scene {
                        index: 0,
                        first_paragraph: s.first_paragraph,
                        last_paragraph: s.last_paragraph,
                        characters: dedup(s.characters.iter().map(|c| people.canonical(c))),
                        places: places.in_text(&text.join("\n")),
                        summary: s.summary.trim().to_owned(),
                        setting: Some(s.setting.trim().to_owned()).filter(|s| !s.is_empty()),
                        atmosphere: Some(s.atmosphere.trim().to_owned()).filter(|s| !s.is_empty()),
                    });
                }
                out.dialogue.extend(x.dialogue.iter().map(|l| DialogueLine {
                    paragraph: l.paragraph,
                    speaker: l.speaker.as_deref().map(|s| people.canonical(s)).filter(|s| !s.is_empty()),
                    text: l.text.clone(),
                }));
                (x.sentiment, x.tonality.clone())
            }
            Answer::Offline => {
                let Some(o) = offline_chapter else { continue };
                if !summaries.contains(&o.summary) {
                    summaries.push(o.summary.clone());
                }
                out.keywords.extend(o.keywords.iter().cloned());
                out.scenes.extend(o.scenes.iter().filter(|s| in_chunk(s.first_paragraph)).cloned());
                out.dialogue.extend(o.dialogue.iter().filter(|l| in_chunk(l.paragraph)).cloned());
                (o.sentiment, o.tonality.clone())
            }
        };
        weighted += sentiment as f64 * size as f64;
        weight += size;
        if size > largest {
            largest = size;
            out.tonality = tonality;
        }
    }
    out.summary = summaries.into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ");
    out.keywords = dedup(out.keywords.drain(..)).into_iter().take(CHAPTER_KEYWORDS).collect();
    out.sentiment = if weight > 0 { (weighted / weight as f64) as f32 } else { 0.0 };
    out.scenes.sort_by_key(|s| s.first_paragraph);
    for (i, s) in out.scenes.iter_mut().enumerate() {
        s.index = i as u32 + 1;
    }
    out.dialogue.sort_by_key(|l| l.paragraph);
    out
}

/// Distinct values, case-insensitively, first spelling and order kept.
fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items.filter(|s| !s.is_empty() && seen.insert(s.to_lowercase())).collect()
}
