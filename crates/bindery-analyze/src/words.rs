//! Closed word lists for English and French: stop words for keywords and summaries, and the cue
//! words the entity and dialogue heuristics look for (titles, speech verbs, locative
//! prepositions, noise that is capitalised but never a character). The lists are generic — none
//! of them names a person or a place — so the heuristics work on any book.

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::text::Lang;

const EN_STOP: &str =
    "a about above after again against all almost along already also although always am among an and \
another any anything are around as at away back be became because become been before being below beside besides \
between both but by came can cannot could did do does doing done down during each either else enough even ever \
every few first for from further get got had has have having he her here hers herself him himself his how however i \
if in into is it its itself just last least less let like made make many may me might mine more most much must my \
myself neither never next no nobody none nor not nothing now of off often on once one only onto or other others \
ought our ours ourselves out over own perhaps quite rather really said same say saying says see seemed seen shall \
she should since so some something somewhat still such than that the their theirs them themselves then there these \
they thing things this those though through thus till to too toward towards under until up upon us very was we \
well went were what whatever when where whether which while who whom whose why will with within without would yet \
you your yours yourself yourselves oh ah yes dear don't won't can't didn't i'm i'll it's that's isn't wasn't \
there's you're i've we're they're let's o'clock go going gone come coming know knew think thought looked look \
tell told began went getting put took take asked replied added went cried thing way time times";

const FR_STOP: &str = "a à afin ai aie aient aies ait alors après as assez au aucun aucune aujourd'hui auquel aura \
aurai auraient aurais aurait auras aurez auriez aurions aurons auront aussi autant autre autres aux auxquelles \
auxquels avaient avais avait avant avec avez aviez avions avoir avons ayant bien c' ça car ce ceci cela celle celles \
celui cependant certes ces cet cette ceux chacun chaque chez ci comme comment contre d' dans de depuis des dès \
desquelles desquels devant donc dont du duquel elle elles en encore entre es est et étaient étais était étant été \
êtes étiez étions être eu eue eues eurent eus eût eux faire fait fois font furent fut fût grâce hors ici il ils j' \
jamais je jusqu' l' la là laquelle le lequel les lesquelles lesquels leur leurs lors lorsqu' lui m' ma mais me même \
mêmes mes moi moins mon n' ne ni non nos notre nous on ont or ou où par parce parmi pas peu peut peuvent plus \
plusieurs pour pourquoi pourtant près puis puisqu' qu' quand que quel quelle quelles quels qui quoi s' sa sans se \
sera serait seront ses si sinon soi soit son sont sous suis sur t' ta tandis tant te tel telle tels tes toi ton tous \
tout toute toutes très trop tu un une vers voici voilà vos votre vous y dit fit répondit demanda reprit ajouta \
monsieur madame oui non ah eh oh avait avaient allait faut ainsi donc cela déjà toujours rien personne autre \
chose moment mr mrs sir fort fois dont ceux celui quelque quelques tout-à-fait aussitôt lorsque puisque quoique";

/// Capitalised words that are never characters or places: days, months, interjections, deities,
/// forms of address and sentence adverbs that a capital at a line start might otherwise promote.
const NOISE: &str = "monday tuesday wednesday thursday friday saturday sunday january february march april may \
june july august september october november december lundi mardi mercredi jeudi vendredi samedi dimanche janvier \
février mars avril mai juin juillet août septembre octobre novembre décembre god lord heaven heavens christ jesus \
dieu ciel seigneur providence oh ah eh ha hum hem alas well yes no oui non hélas bah hein tiens allons voyons bon \
bravo adieu hurrah hourra mr mrs ms sir madam madame monsieur mademoiselle messieurs mesdames majesty majesté \
highness altesse sire miss mister please thank thanks chapter chapitre english french anglais français i o \
ok very however suddenly perhaps soon now then there here nothing everybody somebody anybody nobody";

/// Titles that may precede a name; "Mr. Fogg" is a person cue and the name is "Fogg".
const TITLES: &str = "mr mrs ms miss dr sir lady lord captain colonel general doctor professor father mother uncle \
aunt master mister madam king queen prince princess duke duchess count countess baron emperor m mm mme mlle \
monsieur madame mademoiselle capitaine colonel général docteur roi reine duc duchesse comte comtesse baronne \
marquis empereur révérend reverend inspecteur inspector agent juge judge patron maître commodore major lieutenant \
sergent sergeant";

const SPEECH_EN: &str = "said says say replied answered asked cried shouted exclaimed whispered muttered thought \
added remarked continued began repeated interrupted called screamed sobbed sighed growled roared observed pleaded \
inquired enquired yelled murmured explained insisted retorted protested declared returned panted grumbled";

const SPEECH_FR: &str = "dit dis disait répondit répond répondait demanda demande demandait reprit reprend écria \
s'écria ajouta répliqua murmura cria fit observa pensa objecta riposta continua interrompit déclara hurla \
rétorqua insista exclama s'exclama songea poursuivit répéta dirent répondirent";

/// Prepositions and verbs that introduce a place rather than a person ("in London", "en Inde").
const PLACE_STRONG_EN: &str = "in at from into towards toward near across through reach reached reaching leave \
left leaving via visit visited inside outside beyond throughout";
const PLACE_STRONG_FR: &str = "en vers depuis quitter quitta quittait quitté atteindre atteignit atteint traverser \
traversa traversé gagner gagna débarquer débarqua débarqué rejoindre";
/// Weaker cues: French "à", "de" introduce places and people alike.
const PLACE_WEAK_FR: &str = "à au aux de d' du des pour";
/// Generic nouns for kinds of place; "the city of X", "le port de X".
const PLACE_NOUNS: &str =
    "capital city town village port harbour harbor station street road river lake island country \
province county kingdom state bay coast mount mountain gulf sea ocean ville bourg village gare rue route fleuve \
rivière lac île pays province royaume état baie côte mont montagne golfe mer océan rade quai cap territoire \
capitale bord district";

fn set(cell: &'static OnceLock<HashSet<&'static str>>, words: &'static str) -> &'static HashSet<&'static str> {
    cell.get_or_init(|| words.split_whitespace().collect())
}

macro_rules! word_set {
    ($name:ident, $words:expr) => {
        fn $name() -> &'static HashSet<&'static str> {
            static CELL: OnceLock<HashSet<&'static str>> = OnceLock::new();
            set(&CELL, $words)
        }
    };
}

word_set!(en_stop, EN_STOP);
word_set!(fr_stop, FR_STOP);
word_set!(noise, NOISE);
word_set!(titles, TITLES);
word_set!(speech_en, SPEECH_EN);
word_set!(speech_fr, SPEECH_FR);
word_set!(place_strong_en, PLACE_STRONG_EN);
word_set!(place_strong_fr, PLACE_STRONG_FR);
word_set!(place_weak_fr, PLACE_WEAK_FR);
word_set!(place_nouns, PLACE_NOUNS);

/// Whether a lower-case word is a stop word in the language.
pub fn is_stop(lower: &str, lang: Lang) -> bool {
    match lang {
        Lang::En => en_stop().contains(lower),
        Lang::Fr => fr_stop().contains(lower) || en_stop().contains(lower) && lower.len() <= 2,
    }
}

pub fn is_noise(lower: &str) -> bool {
    noise().contains(lower)
}

pub fn is_title(lower: &str) -> bool {
    titles().contains(lower)
}

/// Whether a lower-case word is a verb of speech. French inverted forms ("demanda-t-il") count.
pub fn is_speech_verb(lower: &str, lang: Lang) -> bool {
    match lang {
        Lang::En => speech_en().contains(lower),
        Lang::Fr => speech_fr().contains(strip_inversion(lower)),
    }
}

/// "demanda-t-il" → "demanda"; "dit-elle" → "dit".
pub fn strip_inversion(lower: &str) -> &str {
    for suffix in ["-t-il", "-t-elle", "-t-on", "-il", "-elle", "-on", "-ils", "-elles", "-je", "-nous", "-vous"] {
        if let Some(stem) = lower.strip_suffix(suffix) {
            return stem;
        }
    }
    lower
}

/// Whether the French inverted form carries a pronoun subject ("dit-il"): the speaker is not named.
pub fn has_pronoun_subject(lower: &str) -> bool {
    strip_inversion(lower) != lower
}

pub fn is_place_strong(lower: &str, lang: Lang) -> bool {
    match lang {
        Lang::En => place_strong_en().contains(lower),
        Lang::Fr => place_strong_fr().contains(lower),
    }
}

pub fn is_place_weak(lower: &str, lang: Lang) -> bool {
    match lang {
        Lang::En => false,
        Lang::Fr => place_weak_fr().contains(lower),
    }
}

pub fn is_place_noun(lower: &str) -> bool {
    place_nouns().contains(lower)
}

/// Articles skipped when looking at the word before a name ("said the Hatter").
pub fn is_article(lower: &str) -> bool {
    matches!(lower, "the" | "a" | "an" | "le" | "la" | "l'" | "les" | "un" | "une" | "this" | "that" | "ce" | "cet")
}

/// Connectors allowed inside a multi-word name ("Queen of Hearts").
pub fn is_name_connector(lower: &str, lang: Lang) -> bool {
    lang == Lang::En && lower == "of"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_cover_function_words_but_not_content() {
        for w in ["the", "and", "of", "she", "would", "said"] {
            assert!(is_stop(w, Lang::En), "{w}");
        }
        for w in ["le", "la", "les", "et", "qu'", "l'", "était", "dit"] {
            assert!(is_stop(w, Lang::Fr), "{w}");
        }
        for w in ["rabbit", "garden", "queen"] {
            assert!(!is_stop(w, Lang::En), "{w}");
        }
        for w in ["éléphant", "voyage", "paquebot"] {
            assert!(!is_stop(w, Lang::Fr), "{w}");
        }
    }

    #[test]
    fn speech_verbs_include_french_inversions() {
        assert!(is_speech_verb("said", Lang::En));
        assert!(is_speech_verb("répondit", Lang::Fr));
        assert!(is_speech_verb("demanda-t-il", Lang::Fr));
        assert!(has_pronoun_subject("dit-elle") && !has_pronoun_subject("dit"));
        assert!(!is_speech_verb("walked", Lang::En));
    }
}
