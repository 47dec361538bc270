//! Extractive summaries: every sentence is scored by the weights of the terms it contains (TF-IDF
//! for a chapter, book-level weights for the whole book), with a bias towards the start of the
//! chapter, where narrators set the scene, and against lines of dialogue and fragments, which
//! read badly out of context. The best sentences are returned verbatim in reading order.

use std::collections::{HashMap, HashSet};

use crate::doc::{ChapterDoc, Doc};
use crate::keywords::term;

/// A sentence and its score, located by paragraph and sentence position in its chapter.
#[derive(Clone, Debug)]
pub struct Scored<'a> {
    pub chapter: usize,
    pub paragraph: usize,
    pub sentence: usize,
    pub score: f32,
    pub text: &'a str,
}

/// Scores every sentence of a chapter against each of `weights` (the book's and the chapter's
/// term weights), one list of scores per map, tokenising each sentence once for all of them.
/// A list given a cap keeps only its best-scored sentences, at most that many (see [`Best`]):
/// enough for [`pick`] when it takes no more than the cap from one chapter, and a chapter of a
/// million sentences then costs a handful of records, not a million.
pub fn score_chapter<'a>(
    doc: &Doc<'a>,
    chapter: usize,
    weights: &[(&HashMap<String, f32>, Option<usize>)],
) -> Vec<Vec<Scored<'a>>> {
    let ch: &ChapterDoc = &doc.chapters[chapter];
    let total = ch.paragraphs.iter().map(|p| p.sentences.len()).sum::<usize>().max(1) as f32;
    let mut out: Vec<Best> = weights.iter().map(|&(_, cap)| Best::new(cap)).collect();
    let mut position = 0usize;
    for (pi, paragraph) in ch.paragraphs.iter().enumerate() {
        for (si, sentence) in paragraph.sentences.iter().enumerate() {
            let tokens = sentence.tokens();
            let terms: HashSet<String> = tokens.iter().filter(|t| t.word).filter_map(|t| term(doc, t)).collect();
            let words = tokens.iter().filter(|t| t.word).count();
            let dialogue = sentence.text.starts_with(['‘', '“', '«', '"', '—', '-']);
            let balanced = balanced(sentence.text);
            let p = position as f32 / total;
            for ((weights, _), out) in weights.iter().zip(&mut out) {
                let mut score = if terms.is_empty() {
                    0.0
                } else {
                    terms.iter().map(|t| weights.get(t).copied().unwrap_or(0.0)).sum::<f32>()
                        / (terms.len() as f32).sqrt()
                };
                score *= match words {
                    0..=5 => 0.2,
                    6..=45 => 1.0,
                    46..=70 => 0.6,
                    _ => 0.3,
                };
                if dialogue {
                    score *= 0.5;
                }
                if !balanced {
                    score *= 0.4;
                }
                score *= 1.0 + 0.5 * (1.0 - p) * (1.0 - p);
                out.push(Scored { chapter, paragraph: pi, sentence: si, score, text: sentence.text });
            }
            position += 1;
        }
    }
    out.into_iter().map(Best::into_vec).collect()
}

/// A list of scored sentences, all of them, or with a cap only the best that many. Capped, it is
/// sorted best first (stably, so of equal scores the earlier sentence stays first, as [`pick`]'s
/// own stable sort would order them) and cut back whenever it doubles: linear time, bounded size.
struct Best<'a> {
    cap: Option<usize>,
    items: Vec<Scored<'a>>,
}

impl<'a> Best<'a> {
    fn new(cap: Option<usize>) -> Self {
        Self { cap, items: Vec::new() }
    }

    fn push(&mut self, scored: Scored<'a>) {
        // A sentence `pick` would never take (no score) is not worth keeping.
        if self.cap.is_some() && scored.score <= 0.0 {
            return;
        }
        self.items.push(scored);
        if let Some(cap) = self.cap {
            if self.items.len() >= 2 * cap.max(8) {
                self.cut(cap);
            }
        }
    }

    fn cut(&mut self, cap: usize) {
        self.items.sort_by(|a, b| b.score.total_cmp(&a.score));
        self.items.truncate(cap);
    }

    fn into_vec(mut self) -> Vec<Scored<'a>> {
        if let Some(cap) = self.cap {
            self.cut(cap);
        }
        self.items
    }
}

/// Whether a sentence opens as many quotations as it closes; one cut out of a longer quotation
/// reads badly on its own. A curly apostrophe between letters ("it’s") is not a closing quote.
fn balanced(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut depth = 0i32;
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '‘' | '“' | '«' => depth += 1,
            '”' | '»' => depth -= 1,
            '’' if !chars.get(i + 1).is_some_and(|n| n.is_alphanumeric()) => depth -= 1,
            _ => {}
        }
    }
    depth == 0
}

/// The `k` best sentences, at most `per_chapter` from any one chapter, in reading order.
pub fn pick<'s, 'a>(scored: &'s [Scored<'a>], k: usize, per_chapter: usize) -> Vec<&'s Scored<'a>> {
    let mut ranked: Vec<&Scored<'a>> = scored.iter().filter(|s| s.score > 0.0).collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut taken: HashMap<usize, usize> = HashMap::new();
    let mut chosen = Vec::new();
    for s in ranked {
        let n = taken.entry(s.chapter).or_insert(0);
        if *n < per_chapter {
            *n += 1;
            chosen.push(s);
            if chosen.len() == k {
                break;
            }
        }
    }
    chosen.sort_by_key(|s| (s.chapter, s.paragraph, s.sentence));
    chosen
}

/// Joins picked sentences into one summary string.
pub fn join(picked: &[&Scored]) -> String {
    picked.iter().map(|s| s.text).collect::<Vec<_>>().join(" ")
}

/// How many sentences a chapter summary gets: three for a real chapter, fewer for a short one.
pub fn chapter_length(sentences: usize) -> usize {
    match sentences {
        0..=14 => 2,
        _ => 3,
    }
}
