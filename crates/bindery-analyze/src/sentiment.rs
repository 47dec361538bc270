//! Chapter sentiment and tonality from the lexicon in [`crate::lexicon`]: count the emotional
//! words, flip the ones a negation governs ("not happy", "pas heureux"), and turn the counts into
//! a polarity in -1..1 and the dominant colour of the chapter.

use crate::lexicon::{emotion, is_negator, Emotion};
use crate::text::{Lang, Sentence};

/// How far back a negation reaches, in words.
const NEGATION_WINDOW: usize = 3;

/// Emotion counts for a stretch of text.
#[derive(Debug, Default, Clone, Copy)]
pub struct Mood {
    pub words: u32,
    pub positive: f32,
    pub negative: f32,
    pub joy: f32,
    pub fear: f32,
    pub sadness: f32,
    pub anger: f32,
}

impl Mood {
    pub fn of<'s, 'a: 's>(sentences: impl IntoIterator<Item = &'s Sentence<'a>>, lang: Lang) -> Mood {
        let mut mood = Mood::default();
        for sentence in sentences {
            let tokens = sentence.tokens();
            let words: Vec<&str> = tokens.iter().filter(|t| t.word).map(|t| t.lower.as_str()).collect();
            mood.words += words.len() as u32;
            for (i, w) in words.iter().enumerate() {
                let Some(e) = emotion(w, lang) else { continue };
                let negated = words[i.saturating_sub(NEGATION_WINDOW)..i].iter().any(|p| is_negator(p, lang))
                    || (lang == Lang::Fr && words.get(i + 1).is_some_and(|n| is_negator(n, lang)));
                let polarity = if negated { -e.polarity() } else { e.polarity() };
                if polarity > 0.0 {
                    mood.positive += 1.0;
                } else {
                    mood.negative += 1.0;
                }
                if negated {
                    continue;
                }
                match e {
                    Emotion::Joy => mood.joy += 1.0,
                    Emotion::Fear => mood.fear += 1.0,
                    Emotion::Sadness => mood.sadness += 1.0,
                    Emotion::Anger => mood.anger += 1.0,
                    Emotion::Good | Emotion::Bad => {}
                }
            }
        }
        mood
    }

    /// Polarity in -1..1; a handful of emotional words cannot make a text strongly polar.
    pub fn sentiment(&self) -> f32 {
        let total = self.positive + self.negative;
        if total == 0.0 {
            return 0.0;
        }
        ((self.positive - self.negative) / (total + 2.0)).clamp(-1.0, 1.0)
    }

    /// "joyful", "tense", "melancholic", "angry" or "neutral".
    pub fn tonality(&self) -> &'static str {
        let emotional = self.joy + self.fear + self.sadness + self.anger;
        // Below one coloured word in a hundred and fifty the text reads as neutral.
        if self.words == 0 || emotional * 150.0 < self.words as f32 {
            return "neutral";
        }
        let sentiment = self.sentiment();
        let colours =
            [(self.joy, "joyful"), (self.fear, "tense"), (self.sadness, "melancholic"), (self.anger, "angry")];
        let (weight, name) = colours.iter().fold((0.0, "neutral"), |best, c| if c.0 > best.0 { *c } else { best });
        let share = weight / emotional;
        match name {
            "joyful" if sentiment > 0.0 && share >= 0.35 => "joyful",
            "tense" | "melancholic" | "angry" if sentiment < 0.3 && share >= 0.35 => name,
            _ => "neutral",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::split_sentences;

    fn mood(text: &str, lang: Lang) -> Mood {
        let sentences: Vec<Sentence> = split_sentences(text).into_iter().map(|s| Sentence::new(s, lang)).collect();
        Mood::of(&sentences, lang)
    }

    #[test]
    fn obvious_texts_get_the_obvious_sign() {
        let happy = mood("They laughed with joy. It was a wonderful, happy day and everyone was delighted.", Lang::En);
        let grim = mood("She wept in despair. The prisoner was afraid of the cruel, furious guards.", Lang::En);
        assert!(happy.sentiment() > 0.3, "{}", happy.sentiment());
        assert!(grim.sentiment() < -0.3, "{}", grim.sentiment());
        let heureux = mood("Ils riaient de bonheur. Quelle joie, quel plaisir merveilleux!", Lang::Fr);
        let triste = mood("Elle pleurait de douleur et de désespoir. La peur et la colère régnaient.", Lang::Fr);
        assert!(heureux.sentiment() > 0.3 && triste.sentiment() < -0.3);
        assert_eq!(heureux.tonality(), "joyful");
    }

    #[test]
    fn negation_flips_polarity() {
        assert!(mood("He was not happy, not pleased, never glad.", Lang::En).sentiment() < 0.0);
        assert!(mood("Il n'était pas heureux.", Lang::Fr).sentiment() < 0.0);
    }

    #[test]
    fn tonality_follows_the_dominant_emotion() {
        let tense =
            mood("Danger! The storm was terrible and they were afraid; in panic they hurried to escape.", Lang::En);
        assert_eq!(tense.tonality(), "tense");
        let sad = mood("Alone and sad, she wept; her grief and sorrow were hopeless.", Lang::En);
        assert_eq!(sad.tonality(), "melancholic");
        assert_eq!(mood("The table stood in the room by the window.", Lang::En).tonality(), "neutral");
    }
}
