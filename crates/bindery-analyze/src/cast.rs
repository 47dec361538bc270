//! From mentions to a cast: keep the candidate names the evidence supports, merge the short
//! forms into the full names they abbreviate ("Fogg" and "Mr. Fogg" into "Phileas Fogg", "the
//! Rabbit" into "White Rabbit"), and tell characters from places by the cues their mentions
//! collected.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::doc::Doc;
use crate::mentions::{common_speakers, find_mentions, Mention};
use crate::text::Lang;
use crate::words::is_noise;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Character,
    Place,
}

/// A character or place with everything the later steps need.
#[derive(Clone, Debug)]
pub struct Entity {
    pub name: String,
    pub kind: Kind,
    /// Other surface forms, most frequent first.
    pub aliases: Vec<String>,
    pub mentions: u32,
    /// Chapter positions (0-based) where the entity is mentioned.
    pub chapters: BTreeSet<usize>,
    /// (chapter position, paragraph position) of every mention, in reading order.
    pub occurrences: Vec<(usize, usize)>,
}

/// The book's characters and places, most mentioned first, and how to find them by name.
#[derive(Debug, Default)]
pub struct Cast {
    pub entities: Vec<Entity>,
    /// Every key and surface form, mapped to its entity.
    pub lookup: HashMap<String, usize>,
}

#[derive(Default)]
struct Candidate {
    total: u32,
    non_initial: u32,
    person: f32,
    place: f32,
    surfaces: HashMap<String, u32>,
    mentions: Vec<usize>,
}

/// Builds the cast of a prepared book.
pub fn build_cast(doc: &Doc) -> Cast {
    let speakers = common_speakers(doc);
    let mentions = find_mentions(doc, &speakers);
    let mut candidates: HashMap<String, Candidate> = HashMap::new();
    for (m, mention) in mentions.iter().enumerate() {
        let c = candidates.entry(mention.key.clone()).or_default();
        c.total += 1;
        c.non_initial += u32::from(!mention.initial);
        c.person += mention.person;
        c.place += mention.place;
        *c.surfaces.entry(mention.surface.clone()).or_insert(0) += 1;
        c.mentions.push(m);
    }
    candidates.retain(|key, c| keep(doc, key, c, &speakers));
    let roots = merge(&candidates);
    let mut groups: HashMap<String, Vec<String>> = HashMap::new();
    for key in candidates.keys() {
        groups.entry(roots[key].clone()).or_default().push(key.clone());
    }
    let mut entities: Vec<Entity> = groups
        .into_iter()
        .map(|(root, keys)| entity(&root, &keys, &candidates, &mentions, &speakers))
        .filter(|e| e.mentions >= 2)
        .collect();
    entities.sort_by(|a, b| b.mentions.cmp(&a.mentions).then_with(|| a.name.cmp(&b.name)));
    let mut lookup = HashMap::new();
    for (i, e) in entities.iter().enumerate() {
        for form in std::iter::once(&e.name).chain(&e.aliases) {
            lookup.entry(form.clone()).or_insert(i);
        }
    }
    Cast { entities, lookup }
}

/// Whether a candidate name is a name at all.
fn keep(doc: &Doc, key: &str, c: &Candidate, speakers: &HashSet<String>) -> bool {
    if speakers.contains(key) {
        return c.total >= 2;
    }
    if c.total < 2 || (c.non_initial == 0 && c.person < 1.0) {
        return false;
    }
    let words: Vec<&str> = key.split(' ').collect();
    if words.len() == 1 {
        let lower = key.to_lowercase();
        if lower.chars().count() < 2 || is_noise(&lower) {
            return false;
        }
        // A word the book mostly writes in lower case is a common noun or an adjective
        // ("Anglais" beside "anglais"), unless it keeps being given a speech verb. French
        // adjectives also count in the feminine ("Indien" beside "indienne").
        let mut lower_uses = doc.lower_count(&lower);
        if doc.lang == Lang::Fr {
            lower_uses += doc.lower_count(&format!("{lower}e")) + doc.lower_count(&format!("{lower}ne"));
        }
        if lower_uses > c.total && c.person < 2.0 {
            return false;
        }
    }
    true
}

/// Maps every key to the key of the full name it abbreviates. A short name joins the most
/// mentioned longer name that contains it, if that one clearly dominates the alternatives
/// ("Andrew" goes to neither "Andrew Stuart" nor "Andrew Speedy" when both are common).
fn merge(candidates: &HashMap<String, Candidate>) -> HashMap<String, String> {
    let mut keys: Vec<(&String, Vec<&str>)> = candidates.keys().map(|k| (k, k.split(' ').collect())).collect();
    keys.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
    let mut roots: HashMap<String, String> = HashMap::new();
    for (i, (key, words)) in keys.iter().enumerate() {
        // Several containers may already share a root ("Phileas Fogg" and "Mr. Phileas Fogg").
        let mut by_root: HashMap<&String, u32> = HashMap::new();
        for (longer, lw) in &keys[..i] {
            if lw.len() > words.len() && lw.windows(words.len()).any(|w| w == words.as_slice()) {
                *by_root.entry(&roots[*longer]).or_insert(0) += candidates[*longer].total;
            }
        }
        let mut ranked: Vec<(u32, &String)> = by_root.into_iter().map(|(r, t)| (t, r)).collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let root = match ranked.as_slice() {
            [] => (*key).clone(),
            [(_, only)] => (*only).clone(),
            [(best, root), (second, _), ..] if *best >= 3 * *second => (*root).clone(),
            _ => (*key).clone(),
        };
        roots.insert((*key).clone(), root);
    }
    roots
}

fn entity(
    root: &str,
    keys: &[String],
    candidates: &HashMap<String, Candidate>,
    mentions: &[Mention],
    speakers: &HashSet<String>,
) -> Entity {
    let mut surfaces: HashMap<&String, u32> = HashMap::new();
    let (mut person, mut place, mut total) = (0.0, 0.0, 0u32);
    let mut indices: Vec<usize> = Vec::new();
    for key in keys {
        let c = &candidates[key];
        person += c.person;
        place += c.place;
        total += c.total;
        indices.extend(&c.mentions);
        for (surface, n) in &c.surfaces {
            *surfaces.entry(surface).or_insert(0) += n;
        }
        surfaces.entry(key).or_insert(0);
    }
    indices.sort_unstable();
    let mut aliases: Vec<(&String, u32)> = surfaces.into_iter().filter(|(s, _)| s.as_str() != root).collect();
    aliases.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let kind = if !speakers.contains(root) && place >= 1.0 + 1.5 * person && place >= 0.2 * total as f32 {
        Kind::Place
    } else {
        Kind::Character
    };
    let occurrences: Vec<(usize, usize)> =
        indices.iter().map(|&m| (mentions[m].chapter, mentions[m].paragraph)).collect();
    Entity {
        name: root.to_string(),
        kind,
        aliases: aliases.into_iter().map(|(s, _)| s.clone()).collect(),
        mentions: total,
        chapters: occurrences.iter().map(|(c, _)| *c).collect(),
        occurrences,
    }
}
