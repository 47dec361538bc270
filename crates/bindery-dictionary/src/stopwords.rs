//! Function words that a reader never needs explained: articles, pronouns, prepositions, conjunctions and the
//! forms of the auxiliaries. The lists follow the widely used Snowball/NLTK stop lists, extended with archaic
//! and contracted forms that the Project Gutenberg corpus uses.

use std::collections::HashSet;
use std::sync::OnceLock;

#[rustfmt::skip]
const ENGLISH: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "ain", "all", "am", "an", "and", "any", "are", "aren",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can",
    "could", "couldn", "did", "didn", "do", "does", "doesn", "doing", "don", "down", "during", "each", "few",
    "for", "from", "further", "had", "hadn", "has", "hasn", "have", "haven", "having", "he", "her", "here",
    "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "isn", "it", "its",
    "itself", "just", "me", "might", "more", "most", "must", "mustn", "my", "myself", "needn", "no", "nor",
    "not", "now", "o", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out",
    "over", "own", "same", "shall", "she", "should", "shouldn", "so", "some", "such", "than", "that", "the",
    "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through",
    "thee", "thou", "thy", "to", "too", "under", "until", "up", "upon", "us", "very", "was", "wasn", "we",
    "were", "weren", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would",
    "wouldn", "you", "your", "yours", "yourself", "yourselves", "ye", "yes", "oh", "ah", "also", "may", "ever",
    "even", "though", "yet", "whose",
    // Pronouns, adverbs and conjunctions that WordNet does not list; left in, they would rank as "rare".
    "without", "within", "anything", "something", "everything", "nothing", "everybody", "anybody", "somebody",
    "nobody", "everyone", "anyone", "someone", "others", "another", "ought", "among", "else", "whether",
    "since", "unless", "cannot", "towards", "toward", "whenever", "wherever", "whereupon", "whoever",
    "whatever", "oneself", "however", "alas", "shan", "won", "ll", "ve", "re",
    // Number words: the dictionary skips numbers however they are written.
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "twenty",
    "thirty", "forty", "fifty", "hundred", "thousand", "million",
];

#[rustfmt::skip]
const FRENCH: &[&str] = &[
    "a", "ai", "aie", "aient", "aies", "ait", "alors", "as", "au", "aucun", "aucune", "aura", "aurai",
    "auraient", "aurais", "aurait", "auras", "aurez", "auriez", "aurions", "aurons", "auront", "aussi", "autre",
    "aux", "avaient", "avais", "avait", "avant", "avec", "avez", "aviez", "avions", "avoir", "avons", "ayant",
    "ayez", "ayons", "c", "ce", "ceci", "cela", "celle", "celles", "celui", "ces", "cet", "cette", "ceux",
    "chez", "comme", "d", "dans", "de", "des", "donc", "dont", "du", "elle", "elles", "en", "encore", "es",
    "est", "et", "étaient", "étais", "était", "étant", "été", "êtes", "étiez", "étions", "être", "eu", "eue",
    "eues", "eûmes", "eurent", "eus", "eusse", "eussent", "eusses", "eussiez", "eussions", "eut", "eût",
    "eûtes", "eux", "fûmes", "furent", "fus", "fusse", "fussent", "fusses", "fussiez", "fussions", "fut", "fût",
    "fûtes", "ici", "il", "ils", "j", "je", "l", "la", "le", "les", "leur", "leurs", "lui", "m", "ma", "mais",
    "me", "même", "mes", "moi", "mon", "n", "ne", "ni", "nos", "notre", "nous", "on", "ont", "or", "ou", "où",
    "par", "pas", "peu", "plus", "pour", "puis", "qu", "quand", "que", "quel", "quelle", "quelles", "quels",
    "qui", "s", "sa", "sans", "se", "sera", "serai", "seraient", "serais", "serait", "seras", "serez", "seriez",
    "serions", "serons", "seront", "ses", "si", "soi", "soient", "sois", "soit", "sommes", "son", "sont",
    "sous", "soyez", "soyons", "suis", "sur", "t", "ta", "te", "tes", "toi", "ton", "tous", "tout", "toute",
    "toutes", "très", "tu", "un", "une", "vos", "votre", "vous", "y", "à", "ô", "ah", "oh", "non", "oui",
    "lequel", "laquelle", "lesquels", "lesquelles", "duquel", "auquel", "dès", "vers", "cependant", "ainsi",
    "déjà", "bien", "rien", "tant", "fort", "lors", "quoi",
    // Adverbs, prepositions and conjunctions beyond the Snowball list.
    "après", "pendant", "entre", "depuis", "car", "moins", "jamais", "enfin", "quelque", "quelques", "autant",
    "assez", "toujours", "aussitôt", "ensuite", "beaucoup", "trop", "tandis", "parce", "lorsque", "puisque",
    "quoique", "comment", "pourquoi", "autour", "devant", "derrière", "contre", "selon", "parmi", "près",
    "voici", "voilà", "celui-ci", "celle-ci", "ceux-ci", "celui-là", "celle-là", "chacun", "chacune",
    "plusieurs", "autres", "aucuns", "personne", "quelqu'un", "toujours", "souvent", "alors", "donc", "puisqu",
    "jusqu", "lorsqu",
    // Number words: the dictionary skips numbers however they are written.
    "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze", "treize",
    "quatorze", "quinze", "seize", "vingt", "vingts", "trente", "quarante", "cinquante", "soixante", "cent",
    "cents", "mille", "million", "millions",
];

/// Whether `word` (lower-cased) is a stop word in `language` ("en" or "fr"; other languages have none).
pub fn is_stop_word(word: &str, language: &str) -> bool {
    // Sets are built once: the check runs for every word of every book.
    static SETS: OnceLock<(HashSet<&str>, HashSet<&str>)> = OnceLock::new();
    let (english, french) = SETS.get_or_init(|| (ENGLISH.iter().copied().collect(), FRENCH.iter().copied().collect()));
    match language {
        "en" => english.contains(word),
        "fr" => french.contains(word),
        _ => false,
    }
}
