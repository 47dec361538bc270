//! WordNet's morphological processor ("morphy", described in morphy(7WN)): an inflected English word is reduced
//! to base forms by first consulting the per-category exception lists (`mice` → `mouse`, `better` → `good`), then
//! trying the standard suffix detachment rules, keeping only candidates that are lemmas in the index. Checking
//! against the index is what makes the crude rules safe: `glasses` → `glass` is kept, `glass` → `glas` is not.

use crate::wordnet::{normalise, WordNet};
use crate::Pos;

/// Detachment rules per category, as listed in morphy(7WN): (suffix, replacement).
const NOUN_RULES: &[(&str, &str)] = &[
    ("s", ""),
    ("ses", "s"),
    ("xes", "x"),
    ("zes", "z"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("men", "man"),
    ("ies", "y"),
];
const VERB_RULES: &[(&str, &str)] =
    &[("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")];
const ADJ_RULES: &[(&str, &str)] = &[("er", ""), ("est", ""), ("er", "e"), ("est", "e")];

fn rules(pos: Pos) -> &'static [(&'static str, &'static str)] {
    match pos {
        Pos::Noun => NOUN_RULES,
        Pos::Verb => VERB_RULES,
        Pos::Adj => ADJ_RULES,
        Pos::Adv => &[],
    }
}

impl WordNet {
    /// Base forms of `word` in every category where it has one, as (category, lemma) pairs without duplicates.
    /// A word that is already a lemma is returned as itself; an unknown word yields an empty list.
    pub fn morphy(&self, word: &str) -> Vec<(Pos, String)> {
        let word = normalise(word);
        let mut out: Vec<(Pos, String)> = Vec::new();
        let mut push = |pos: Pos, lemma: &str| {
            if !out.iter().any(|(p, l)| *p == pos && l == lemma) {
                out.push((pos, lemma.to_string()));
            }
        };
        // Hyphenated words are looked up as written, then as collocations ("bread-knife" → "bread_knife"), then
        // closed up, as modern spelling writes many of them ("arm-chair" → "armchair").
        let mut spellings = vec![word.clone()];
        if word.contains('-') {
            spellings.push(word.replace('-', "_"));
            spellings.push(word.replace('-', ""));
        }
        for pos in Pos::ALL {
            for spelling in &spellings {
                for base in self.exception_bases(spelling, pos) {
                    push(pos, base);
                }
                if self.has_lemma(spelling, pos) {
                    push(pos, spelling);
                }
                // morphy leaves nouns ending in "ss" and very short words alone: "ss" words are singular
                // ("glass", "mass") and two-letter words have no detachable suffix.
                if pos == Pos::Noun && (spelling.ends_with("ss") || spelling.chars().count() <= 2) {
                    continue;
                }
                for (suffix, replacement) in rules(pos) {
                    if let Some(stem) = spelling.strip_suffix(suffix) {
                        if stem.is_empty() {
                            continue;
                        }
                        let candidate = format!("{stem}{replacement}");
                        if self.has_lemma(&candidate, pos) {
                            push(pos, &candidate);
                        }
                    }
                }
            }
        }
        out
    }

    /// The single most likely base form of `word`: among the [`WordNet::morphy`] candidates, the one with the
    /// highest general-usage count in its category; ties prefer a form different from the word (the reduced
    /// one), then the shorter. `None` when WordNet does not know the word.
    pub fn best_lemma(&self, word: &str) -> Option<(Pos, String)> {
        let surface = normalise(word);
        self.morphy(&surface).into_iter().max_by(|(pa, la), (pb, lb)| {
            let key = |p: Pos, l: &String| (self.frequency_as(l, p), *l != surface, std::cmp::Reverse(l.len()));
            // max_by keeps the last of equal elements; reversing the comparison order would change nothing
            // for distinct keys, and equal keys only arise for identical lemmas in different categories,
            // where WordNet's noun-first order is preferred by comparing categories in reverse.
            key(*pa, la).cmp(&key(*pb, lb)).then_with(|| pb.cmp(pa))
        })
    }
}
