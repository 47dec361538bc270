//! Telling names apart and together: which surface forms are one character ("Mr. Fogg", "Fogg", "Phileas Fogg"),
//! and how often a set of forms occurs in a text.
//!
//! The model names characters chunk by chunk, so the same person arrives many times under several names. Grouping
//! is deliberately conservative: two entries are one person when they share a normalised form, or when a one-word
//! form is a word of exactly one longer name (a surname shared by two Bennets stays ambiguous and merges nothing).

use std::collections::{HashMap, HashSet};

/// Honorifics dropped before comparing names (English and French).
const TITLES: [&str; 16] = [
    "mr", "mrs", "ms", "miss", "dr", "sir", "lady", "lord", "the", "m", "mme", "mlle", "madame", "monsieur", "le", "la",
];

/// Lower case, letters and digits only, honorifics dropped: "Mr. Phileas  Fogg" → "phileas fogg".
pub fn normalise(name: &str) -> String {
    let lower = name.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .collect();
    let start = words.iter().take_while(|w| TITLES.contains(w)).count();
    // A name that is only a title ("Madame") keeps it.
    let kept = if start == words.len() { &words[..] } else { &words[start..] };
    kept.join(" ")
}

/// Groups entries, each given as its list of surface forms (name first), into people: returns, per entry, the index
/// of its group, groups numbered from 0 in order of first appearance.
pub fn group(entries: &[Vec<String>]) -> Vec<usize> {
    let n = entries.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let union = |p: &mut Vec<usize>, a: usize, b: usize| {
        let (ra, rb) = (find(p, a), find(p, b));
        if ra != rb {
            p[ra.max(rb)] = ra.min(rb);
        }
    };
    let forms: Vec<HashSet<String>> =
        entries.iter().map(|e| e.iter().map(|f| normalise(f)).filter(|f| !f.is_empty()).collect()).collect();
    // Same normalised form: same person.
    let mut by_form: HashMap<&str, usize> = HashMap::new();
    for (i, fs) in forms.iter().enumerate() {
        for f in fs {
            match by_form.get(f.as_str()) {
                Some(&j) => union(&mut parent, i, j),
                None => {
                    by_form.insert(f, i);
                }
            }
        }
    }
    // A one-word form that is a word of exactly one multi-word name (after the merges above).
    let mut owners: HashMap<&str, HashSet<usize>> = HashMap::new();
    for (i, fs) in forms.iter().enumerate() {
        for f in fs.iter().filter(|f| f.contains(' ')) {
            for w in f.split(' ') {
                owners.entry(w).or_default().insert(find(&mut parent, i));
            }
        }
    }
    for (i, fs) in forms.iter().enumerate() {
        for f in fs.iter().filter(|f| !f.contains(' ')) {
            if let Some(o) = owners.get(f.as_str()) {
                if o.len() == 1 {
                    let j = *o.iter().next().expect("one owner");
                    union(&mut parent, i, j);
                }
            }
        }
    }
    let mut ids: HashMap<usize, usize> = HashMap::new();
    (0..n)
        .map(|i| {
            let root = find(&mut parent, i);
            let next = ids.len();
            *ids.entry(root).or_insert(next)
        })
        .collect()
}

/// Counts occurrences of surface forms in texts, for many entities at once: one pass over the text per call,
/// matching at word starts, longest form first, so "Phileas Fogg" counts once and not also as "Fogg".
pub struct Counter {
    /// First word of a form → (the form's words, entity), longest first.
    by_first: HashMap<String, Vec<(Vec<String>, usize)>>,
}

/// Words of a text, a possessive's "'s" dropped ("Fogg's" is "Fogg").
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '\u{2019}')
        .map(|w| w.strip_suffix("'s").or_else(|| w.strip_suffix("\u{2019}s")).unwrap_or(w))
        .map(|w| w.trim_matches(['\'', '\u{2019}']))
        .filter(|w| !w.is_empty())
        .collect()
}

impl Counter {
    /// `forms[e]` are entity `e`'s surface forms, matched case-sensitively (names are capitalised; "Will" is not
    /// "will").
    pub fn new(forms: &[Vec<String>]) -> Counter {
        let mut by_first: HashMap<String, Vec<(Vec<String>, usize)>> = HashMap::new();
        for (e, fs) in forms.iter().enumerate() {
            for f in fs {
                let w: Vec<String> = words(f).into_iter().map(str::to_owned).collect();
                if let Some(first) = w.first().cloned() {
                    by_first.entry(first).or_default().push((w, e));
                }
            }
        }
        for list in by_first.values_mut() {
            list.sort_by_key(|form| std::cmp::Reverse(form.0.len()));
            list.dedup();
        }
        Counter { by_first }
    }

    /// Adds each entity's occurrences in `text` to `counts` (indexed by entity).
    pub fn count(&self, text: &str, counts: &mut [u32]) {
        let w = words(text);
        let mut i = 0;
        while i < w.len() {
            let hit = self.by_first.get(w[i]).and_then(|cands| {
                cands.iter().find(|(form, _)| w.len() - i >= form.len() && w[i..i + form.len()] == form[..])
            });
            match hit {
                Some((form, e)) => {
                    counts[*e] += 1;
                    i += form.len();
                }
                None => i += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(forms: &[&str]) -> Vec<String> {
        forms.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_are_normalised_without_titles() {
        assert_eq!(normalise("Mr. Phileas  Fogg"), "phileas fogg");
        assert_eq!(normalise("Madame"), "madame");
        assert_eq!(normalise("M. Bovary"), "bovary");
        assert_eq!(normalise("the White Rabbit"), "white rabbit");
    }

    #[test]
    fn forms_and_unambiguous_surnames_group_people() {
        let entries = vec![
            v(&["Phileas Fogg"]),
            v(&["Passepartout", "Jean Passepartout"]),
            v(&["Mr. Fogg"]),
            v(&["Jean"]),
            v(&["Elizabeth Bennet"]),
            v(&["Jane Bennet"]),
            v(&["Bennet"]),
            v(&["fogg"]),
        ];
        let g = group(&entries);
        assert_eq!(g[0], g[2], "Mr. Fogg is Phileas Fogg");
        assert_eq!(g[0], g[7]);
        assert_eq!(g[1], g[3], "Jean is only Passepartout's first name");
        assert_ne!(g[4], g[5]);
        assert_ne!(g[6], g[4], "Bennet is ambiguous");
        assert_ne!(g[6], g[5]);
        assert_eq!(g[0], 0);
        assert_eq!(g[1], 1);
    }

    #[test]
    fn counting_takes_the_longest_form_at_word_starts() {
        let c = Counter::new(&[v(&["Phileas Fogg", "Fogg"]), v(&["Aouda"]), v(&["Will"])]);
        let mut n = vec![0; 3];
        c.count("Phileas Fogg met Aouda. Fogg's watch; Foggy weather. Aouda! I will.", &mut n);
        assert_eq!(n, vec![2, 2, 0]);
    }
}
