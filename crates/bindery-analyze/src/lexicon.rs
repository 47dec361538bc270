//! A small polarity and emotion lexicon for English and French, written for this crate. Each
//! entry belongs to one emotion; joy and plain approval are positive, the others negative.
//! Entries ending in `*` match any word they begin (French and English inflect too much to list
//! every form: "heureu*" covers heureux, heureuse, heureusement).

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::text::Lang;

/// The emotion a lexicon word carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Emotion {
    /// Happiness, delight, laughter.
    Joy,
    /// Approval, kindness, success: positive without being joyful.
    Good,
    /// Grief, loneliness, loss.
    Sadness,
    /// Danger, fear, haste, suspense.
    Fear,
    /// Rage, quarrels, violence.
    Anger,
    /// Disapproval, failure: negative without a stronger colour.
    Bad,
}

impl Emotion {
    pub fn polarity(self) -> f32 {
        match self {
            Emotion::Joy | Emotion::Good => 1.0,
            _ => -1.0,
        }
    }
}

const EN: &[(Emotion, &str)] = &[
    (
        Emotion::Joy,
        "happy happily happiness joy joyful joyfully delight* laugh* smil* merry merrily cheer* glad gladly \
         pleas* enjoy* fun funny wonderful beautiful beautifully lovely love* loving delicious grin* amus* \
         charming charmed hope hopeful hoping celebrat* triumph* thrill* excit* rejoic* jolly bliss* gay",
    ),
    (
        Emotion::Good,
        "good better best kindly kindness nice nicely fine friend* gentle gently polite* grateful thank* \
         success* win winning won safe safely save saved rescue* brave bravely honest honour* honor* true \
         wise clever calm calmly comfort* generous* rich wealth* perfect perfectly proud splendid \
         admir* respect* trust* agree* help* helpful sweet warm welcome* bright easy easily",
    ),
    (
        Emotion::Sadness,
        "sad sadly sadness sorrow* cry crying cried tears tear weep* wept mourn* grief griev* lonely alone \
         melanchol* unhappy miserable misery gloom* dismal despair* sigh* sighed sob* sobbing lost loss \
         dead death die died dying poor wretched regret* tired weary sorry pity pitiful hopeless* dull dark",
    ),
    (
        Emotion::Fear,
        "afraid fear* frighten* fright* terror terribl* terrif* scare* alarm* anxious* anxiety danger* \
         threat* panic* nervous* tremb* shiver* shudder* worry worried hurry hurried haste hastily urgent \
         risk* peril* desperate* escape* chase* attack* storm* hide hidden hiding suspicio* strange* trap* \
         startled dread* horri*",
    ),
    (
        Emotion::Anger,
        "angry angrily anger furious* fury rage raging shout* scream* yell* roar* hate* hatred cruel* \
         violent* violence fight* fought quarrel* argu* insult* savage* kill* murder* beat* blow* punish* \
         execut* behead* sentence* offend* offended indignant* cross sulk* sharply",
    ),
    (
        Emotion::Bad,
        "bad badly worse worst wrong ugly stupid foolish nonsense rude rudely silly fail* failure \
         trouble* difficult* problem* ill sick pain* hurt* uncomfortable* unpleasant* annoy* \
         dislike* impatient* confus* puzzl* awkward* shame* ashamed guilty lying thief steal* stole* \
         crime* criminal* prison* arrest*",
    ),
];

const FR: &[(Emotion, &str)] = &[
    (
        Emotion::Joy,
        "heureu* bonheur joie joyeu* rire riant rit sourire souri* gai gaie gaiement ravi* enchant* \
         plaisir content* aim* amour amoureu* délicieu* charmant* magnifique merveill* espoir espér* \
         triomph* fête* célébr* enthousias* allégresse jubil* exult*",
    ),
    (
        Emotion::Good,
        "bon bonne bons bonnes meilleur* gentil* aimable* ami amie amis amies amitié honnête* généreu* \
         reconnaissan* remerci* merci succès réussi* gagn* sauv* sûr sûre sûreté calme* tranquill* brave* \
         courag* fidèle* dévou* loyal* sage* habile* riche* parfait* admir* respect* confian* accord* aid* \
         secour* doux douce doucement agréable* excellent* superbe noble* digne*",
    ),
    (
        Emotion::Sadness,
        "triste* tristesse chagrin* malheur* pleur* larme* deuil mort morte morts mourir mourut mourant \
         solitude mélancoli* désespoir désespér* regret* pauvre* misère misérable* soupir* \
         sombre* perdu perdue perte hélas abattu* las lasse fatigu* pitié douleur* douloureu*",
    ),
    (
        Emotion::Fear,
        "peur effray* effroi terreur terrible* terrifi* craint* crainte* danger* dangereu* menac* alarm* \
         inquiet* inquiétude* anxi* angoiss* panique trembl* frisson* hâte hâta hâter pressé* urgent* \
         risqu* péril* périlleu* désespérément fuir fuite fuy* poursui* attaqu* tempête* ouragan* cach* \
         soupçon* méfi* piège* retard* horribl* épouvant*",
    ),
    (
        Emotion::Anger,
        "colère furieu* fureur rage* enragé* cri cria crier hurl* haine hai* cruel* cruauté violent* \
         violence* battre battit bat frapp* querell* dispute* insult* sauvage* \
         massacr* brûl* bûcher tua tué tuée tués tuer veng* irrit* indign* exaspér*",
    ),
    (
        Emotion::Bad,
        "mauvais* mal pire faute* erreur* laid* sot* stupid* absurde* ridicule* échou* échec* difficile* \
         difficulté* problème* malade* maladie* souffr* ennui* ennuy* impatien* confus* embarras* honte* \
         honteu* coupable* mensonge* menti* voleur* vol voler volé* crime* criminel* prison* obstacle*",
    ),
];

/// Negators that flip the polarity of the next few words.
pub fn is_negator(lower: &str, lang: Lang) -> bool {
    match lang {
        Lang::En => matches!(lower, "not" | "no" | "never" | "n't" | "nor" | "without" | "hardly" | "don't" | "didn't"),
        Lang::Fr => matches!(lower, "pas" | "jamais" | "point" | "sans" | "guère" | "nullement"),
    }
}

struct Lexicon {
    exact: HashMap<&'static str, Emotion>,
    prefixes: HashMap<&'static str, Emotion>,
    /// The longest prefix, in bytes: no longer beginning of a word can match, so a hostile "word" of megabytes
    /// costs no more lookups than a real one.
    longest_prefix: usize,
}

fn build(entries: &'static [(Emotion, &'static str)]) -> Lexicon {
    let mut lexicon = Lexicon { exact: HashMap::new(), prefixes: HashMap::new(), longest_prefix: 0 };
    for (emotion, words) in entries {
        for word in words.split_whitespace() {
            match word.strip_suffix('*') {
                Some(prefix) => {
                    lexicon.longest_prefix = lexicon.longest_prefix.max(prefix.len());
                    lexicon.prefixes.insert(prefix, *emotion)
                }
                None => lexicon.exact.insert(word, *emotion),
            };
        }
    }
    lexicon
}

fn lexicon(lang: Lang) -> &'static Lexicon {
    static EN_LEX: OnceLock<Lexicon> = OnceLock::new();
    static FR_LEX: OnceLock<Lexicon> = OnceLock::new();
    match lang {
        Lang::En => EN_LEX.get_or_init(|| build(EN)),
        Lang::Fr => FR_LEX.get_or_init(|| build(FR)),
    }
}

/// The emotion of a lower-case word, if the lexicon knows it. Exact entries win over prefixes,
/// and a longer prefix wins over a shorter one.
pub fn emotion(lower: &str, lang: Lang) -> Option<Emotion> {
    let lex = lexicon(lang);
    if let Some(e) = lex.exact.get(lower) {
        return Some(*e);
    }
    // Only the beginnings up to the longest prefix, so the work per word is bounded whatever its length.
    let boundaries: Vec<usize> = lower
        .char_indices()
        .map(|(i, _)| i)
        .chain([lower.len()])
        .take_while(|&end| end <= lex.longest_prefix)
        .collect();
    boundaries.iter().rev().filter(|&&end| end >= 2).find_map(|&end| lex.prefixes.get(&lower[..end]).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_word_costs_no_more_than_a_real_one() {
        assert!(emotion("delighted", Lang::En).is_some(), "prefixes still match");
        let huge = "x".repeat(1 << 20);
        let started = std::time::Instant::now();
        assert_eq!(emotion(&huge, Lang::En), None);
        // Before, the lookup hashed every beginning of the word: half a tebibyte of hashing for this one.
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }
}
