//! A compact, rule-based French lemmatiser for the dictionary.
//!
//! Why no general frequency list and no definitions for French: Debian (bookworm) ships no French word-frequency
//! data. Its French dictionaries (`hunspell-fr-*`, `aspell-fr`, `myspell-fr`, `wfrench`, Grammalecte's lexicon in
//! `python3-grammalecte`) list word forms and morphology but no usage counts. French definitions would need a
//! second dictionary reader (Debian's `stardict-xmlittre` carries the 19th-century Littré) and are out of scope
//! here. So French entries get in-book rarity, `general_frequency: None` and no definitions, never invented numbers.
//!
//! With no lexicon to check candidates against, the lemmatiser works like WordNet's morphy: it proposes base forms with suffix rules and accepts a proposal only
//! when that base form is *attested*, here meaning the candidate appears as a word somewhere in the same book.
//! "grandes" becomes "grand" only if "grand" occurs in the book; otherwise the word stays as written.
//!
//! Rules, applied in this order and combined (so "arrivées" → "arrivée" → "arrivé" → "arriver"):
//! - a short table of irregular forms, applied without attestation (`yeux` → `œil`, `belle` → `beau`);
//! - plurals: `-eaux` → `-eau`, `-aux` → `-al`, `-x` after `au`/`eu`/`ou`, final `-s`;
//! - feminines: `-euse` → `-eur`/`-eux`, `-rice` → `-eur`, `-ive` → `-if`, `-elle` → `-el`, `-enne` → `-en`,
//!   `-onne` → `-on`, `-ette` → `-et`, and a bare `-e` after `d`, `t`, `s`, `é`, `i`, `n`, `l` or `r`;
//! - verbs, to the infinitive: past participles (`-é` → `-er`, `-i` → `-ir`), the imperfect (`-ait`, `-aient`,
//!   `-ais`), the passé simple (`-a`, `-èrent`, `-it`, `-irent`, `-ât`), the future and conditional in `-er-`,
//!   `-ez`, the present participle `-ant`, the `-iss-` forms of the second group, and the `-dit`/`-dait`/
//!   `-dant`/`-du` forms of verbs in `-dre` (`répondit` → `répondre`);
//! - a table of the commonest irregular verb forms (`pouvait` → `pouvoir`, `fit` → `faire`, `vint` → `venir`).
//!
//! Limits, stated plainly: present-tense forms in `-e`/`-es`/`-ent` are left alone because they collide with
//! nouns ("porte", "marche"); irregular verbs beyond the small table are not conjugated back; a word
//! whose base form never occurs in the book keeps its inflected form; and attestation cannot separate true
//! homographs, so a short exclusion list guards the common noun pairs ("porte"/"port", "partie"/"parti").

use std::collections::HashSet;

/// Irregular forms mapped without needing the base form in the book.
#[rustfmt::skip]
const IRREGULAR: &[(&str, &str)] = &[
    ("yeux", "œil"), ("cieux", "ciel"), ("messieurs", "monsieur"), ("mesdames", "madame"),
    ("mesdemoiselles", "mademoiselle"), ("travaux", "travail"), ("gentilshommes", "gentilhomme"),
    ("bonshommes", "bonhomme"), ("vieille", "vieux"), ("vieilles", "vieux"), ("belle", "beau"), ("belles", "beau"),
    ("nouvelle", "nouveau"), ("nouvelles", "nouveau"), ("folle", "fou"), ("folles", "fou"), ("blanche", "blanc"),
    ("blanches", "blanc"), ("longue", "long"), ("longues", "long"), ("douce", "doux"), ("douces", "doux"),
    ("fausse", "faux"), ("fausses", "faux"), ("grosse", "gros"), ("grosses", "gros"), ("basse", "bas"),
    ("basses", "bas"), ("fraîche", "frais"), ("fraîches", "frais"), ("sèche", "sec"), ("sèches", "sec"),
    // The commonest irregular verbs, whose forms no suffix rule can reach.
    ("pouvait", "pouvoir"), ("pouvaient", "pouvoir"), ("pourrait", "pouvoir"), ("pourraient", "pouvoir"),
    ("peut", "pouvoir"), ("peuvent", "pouvoir"), ("put", "pouvoir"), ("pût", "pouvoir"), ("pu", "pouvoir"),
    ("devait", "devoir"), ("devaient", "devoir"), ("devrait", "devoir"), ("doit", "devoir"), ("doivent", "devoir"),
    ("dut", "devoir"), ("dût", "devoir"), ("voulait", "vouloir"), ("voulaient", "vouloir"), ("voulut", "vouloir"),
    ("veut", "vouloir"), ("veulent", "vouloir"), ("savait", "savoir"), ("savaient", "savoir"), ("sut", "savoir"),
    ("sait", "savoir"), ("savent", "savoir"), ("dit", "dire"), ("dirent", "dire"), ("disait", "dire"),
    ("disaient", "dire"), ("fit", "faire"), ("firent", "faire"), ("faisait", "faire"), ("faisaient", "faire"),
    ("vit", "voir"), ("virent", "voir"), ("voyait", "voir"), ("voyaient", "voir"), ("prit", "prendre"),
    ("prirent", "prendre"), ("prenait", "prendre"), ("vint", "venir"), ("vinrent", "venir"), ("venait", "venir"),
    ("reprit", "reprendre"), ("reprirent", "reprendre"),
];

/// Feminine-looking nouns whose "masculine" is a different, unrelated word.
#[rustfmt::skip]
const NOT_FEMININE: &[&str] = &[
    "porte", "partie", "sorte", "forme", "pente", "suite", "vente", "tente", "faute", "note", "chute", "route",
    "mère", "rue", "vue", "fête", "mine", "dune", "lune", "fine", "mise", "prise", "reine", "sente", "poste", "jeune",
    "anse", "chose", "pose", "rose", "masse", "passe", "presse", "tasse", "place", "parte", "mâle", "salle",
];

#[rustfmt::skip]
const FEMININE: &[(&str, &str)] = &[
    ("euse", "eur"), ("euse", "eux"), ("rice", "eur"), ("ive", "if"), ("elle", "el"), ("enne", "en"), ("onne", "on"),
    ("ette", "et"),
];

/// Verb endings and the infinitive ending that replaces them, with the shortest stem each needs.
#[rustfmt::skip]
const VERB: &[(&str, &str, usize)] = &[
    ("issaient", "ir", 2), ("issait", "ir", 2), ("issant", "ir", 2), ("issons", "ir", 2), ("issez", "ir", 2),
    ("issent", "ir", 2), ("eraient", "er", 2), ("erions", "er", 2), ("eront", "er", 2), ("erons", "er", 2),
    ("erait", "er", 2), ("erais", "er", 2), ("erai", "er", 2), ("era", "er", 2), ("aient", "er", 2),
    ("èrent", "er", 2), ("irent", "ir", 2), ("ait", "er", 2), ("ais", "er", 3), ("ât", "er", 2), ("ant", "er", 4),
    ("ez", "er", 3), ("é", "er", 2), ("a", "er", 3), ("it", "ir", 2), ("i", "ir", 2),
    // Verbs in -dre ("répondit", "attendait", "entendu"), tried after the -er and -ir readings. Only the `d`
    // stems are taken: a general `-ait` → `-re` rule turns "cotait" into the unrelated noun "cotre".
    ("daient", "dre", 2), ("dirent", "dre", 2), ("dait", "dre", 2), ("dant", "dre", 2), ("dit", "dre", 2),
    ("du", "dre", 2),
];

/// Lemma of a lower-cased French `word`, using `attested` (the book's vocabulary) to accept or refuse each
/// candidate base form. Returns the word unchanged when no rule yields an attested form.
pub fn lemmatize(word: &str, attested: &HashSet<String>) -> String {
    if let Some((_, base)) = IRREGULAR.iter().find(|(form, _)| *form == word) {
        return (*base).to_string();
    }
    candidates(word).into_iter().find(|c| c == word || attested.contains(c)).unwrap_or_else(|| word.to_string())
}

/// Candidate base forms, most reduced first, ending with the word itself.
fn candidates(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    for singular in singulars(word) {
        for base in masculines(&singular) {
            out.extend(infinitives(&base));
            out.push(base);
        }
    }
    out.dedup();
    out
}

fn singulars(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(stem) = word.strip_suffix("eaux") {
        out.push(format!("{stem}eau"));
    } else if let Some(stem) = word.strip_suffix("aux") {
        out.push(format!("{stem}al"));
        out.push(format!("{stem}au"));
    } else if word.ends_with("eux") || word.ends_with("oux") {
        out.push(word[..word.len() - 1].to_string());
    } else if let Some(stem) = word.strip_suffix('s') {
        if !stem.ends_with('s') && stem.chars().count() >= 2 {
            out.push(stem.to_string());
        }
    }
    out.push(word.to_string());
    out
}

fn masculines(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !NOT_FEMININE.contains(&word) {
        for (suffix, replacement) in FEMININE {
            if let Some(stem) = word.strip_suffix(suffix).filter(|s| !s.is_empty()) {
                out.push(format!("{stem}{replacement}"));
            }
        }
        if let Some(stem) = word.strip_suffix('e').filter(|s| s.chars().count() >= 2) {
            if stem.ends_with(['d', 't', 's', 'é', 'i', 'n', 'l', 'r']) {
                out.push(stem.to_string());
            }
        }
    }
    out.push(word.to_string());
    out
}

fn infinitives(word: &str) -> Vec<String> {
    VERB.iter()
        .filter_map(|(suffix, infinitive, min_stem)| {
            let stem = word.strip_suffix(suffix)?;
            (stem.chars().count() >= *min_stem).then(|| format!("{stem}{infinitive}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lemma_table() {
        let book: HashSet<String> = [
            "grand",
            "arriver",
            "voyageur",
            "cheval",
            "bateau",
            "heureux",
            "finir",
            "marcher",
            "port",
            "parti",
            "bijou",
            "actif",
            "anglais",
            "acteur",
            "cruel",
            "ancien",
            "bon",
            "sembler",
            "enfer",
            "tuyau",
            "répondre",
            "attendre",
            "ans",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let table = [
            ("grandes", "grand"),
            ("arrivées", "arriver"),
            ("arrivait", "arriver"),
            ("voyageuses", "voyageur"),
            ("chevaux", "cheval"),
            ("bateaux", "bateau"),
            ("heureuse", "heureux"),
            ("finissaient", "finir"),
            ("marchant", "marcher"),
            ("bijoux", "bijou"),
            ("tuyaux", "tuyau"),
            ("actives", "actif"),
            ("anglaise", "anglais"),
            ("actrice", "acteur"),
            ("cruelle", "cruel"),
            ("anciennes", "ancien"),
            ("bonne", "bon"),
            ("semblât", "sembler"),
            ("répondit", "répondre"),
            ("attendu", "attendre"),
            ("pouvait", "pouvoir"),
            ("yeux", "œil"),
            ("belles", "beau"),
            // Guarded homographs and unattested bases stay as written.
            ("porte", "porte"),
            ("partie", "partie"),
            ("anse", "anse"),
            ("maisons", "maisons"),
            ("enfant", "enfant"),
        ];
        for (form, expected) in table {
            assert_eq!(lemmatize(form, &book), expected, "lemma of {form}");
        }
    }
}
