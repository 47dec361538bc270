//! Scenes: a chapter is cut at explicit scene breaks ("* * *", a lone "#" or dash) and, inside a
//! stretch without breaks, where the characters and places named in the paragraphs before a point
//! share almost nothing with those named after it.

use std::collections::HashSet;

/// Paragraphs on each side of a candidate cut that are compared.
const WINDOW: usize = 5;
/// The shortest scene an implicit cut may create, in paragraphs.
const MIN_SCENE: usize = 6;
/// Cut where the two windows' casts overlap this little (Jaccard similarity) or less.
const MAX_OVERLAP: f32 = 0.1;

/// Whether a paragraph is a scene-break marker: no letters or digits at all ("* * *", "***", "#").
pub fn is_break(text: &str) -> bool {
    !text.chars().any(char::is_alphanumeric)
}

/// Splits paragraphs into scenes, as inclusive (first, last) paragraph ranges. `entities[p]`
/// lists what paragraph `p` mentions; `breaks[p]` marks break paragraphs, which belong to no scene.
pub fn split(entities: &[Vec<usize>], breaks: &[bool]) -> Vec<(usize, usize)> {
    let mut scenes = Vec::new();
    let mut start = 0;
    for p in 0..=breaks.len() {
        if p == breaks.len() || breaks[p] {
            if p > start {
                split_segment(entities, start, p, &mut scenes);
            }
            start = p + 1;
        }
    }
    scenes
}

fn window(entities: &[Vec<usize>], from: usize, to: usize) -> HashSet<usize> {
    entities[from..to].iter().flatten().copied().collect()
}

fn overlap(a: &HashSet<usize>, b: &HashSet<usize>) -> Option<f32> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    Some(a.intersection(b).count() as f32 / a.union(b).count() as f32)
}

/// Splits the break-free paragraphs `start..end` at cast shifts.
fn split_segment(entities: &[Vec<usize>], start: usize, end: usize, scenes: &mut Vec<(usize, usize)>) {
    let mut first = start;
    let mut c = start + MIN_SCENE;
    while c + MIN_SCENE <= end {
        let similarity = |c: usize| {
            let before = window(entities, c.saturating_sub(WINDOW).max(first), c);
            let after = window(entities, c, (c + WINDOW).min(end));
            overlap(&before, &after)
        };
        match similarity(c) {
            Some(s) if s <= MAX_OVERLAP => {
                // Take the cleanest cut among the next few candidates.
                let best = (c..(c + WINDOW).min(end + 1 - MIN_SCENE))
                    .filter_map(|d| similarity(d).map(|s| (d, s)))
                    .fold((c, s), |best, d| if d.1 < best.1 { d } else { best });
                scenes.push((first, best.0 - 1));
                first = best.0;
                c = first + MIN_SCENE;
            }
            _ => c += 1,
        }
    }
    scenes.push((first, end - 1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_breaks_end_scenes() {
        assert!(is_break("* * *") && is_break("#") && !is_break("A line."));
        let entities = vec![vec![0]; 7];
        let breaks = [false, false, false, true, false, false, false];
        assert_eq!(split(&entities, &breaks), [(0, 2), (4, 6)]);
    }

    #[test]
    fn a_change_of_cast_starts_a_scene() {
        let mut entities: Vec<Vec<usize>> = vec![vec![0, 1]; 8];
        entities.extend(vec![vec![2, 3]; 8]);
        let breaks = vec![false; entities.len()];
        assert_eq!(split(&entities, &breaks), [(0, 7), (8, 15)]);
    }

    #[test]
    fn a_steady_cast_stays_one_scene() {
        let entities: Vec<Vec<usize>> = (0..20).map(|i| vec![0, i % 3 + 1]).collect();
        assert_eq!(split(&entities, &[false; 20]), [(0, 19)]);
    }
}
