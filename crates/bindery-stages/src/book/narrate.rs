//! `narrate`: a spoken preview, about the first minute of chapter 1, with
//! espeak-ng in the book's language, encoded to Opus. Whole chapters are
//! narrated on demand (`bindery narrate`) with [`narrate_chapter`].

use super::kinds;
use super::BookContext;
use async_trait::async_trait;
use bindery_core::{Book, Chapter};
use bindery_media::{narrate, preview_text, AudioFormat, MediaError, NarrateOptions, Narration, MAX_BYTES_PER_WORD};
use bindery_pipeline::{Stage, StageContext, StageError, StageOutput};
use serde_json::json;

/// Length of the ingest-time preview.
pub const PREVIEW_SECONDS: u32 = 60;

pub struct Narrate;

#[async_trait]
impl Stage for Narrate {
    fn name(&self) -> &'static str {
        "narrate"
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let book = ctx.book().await?;
        let opts = NarrateOptions::for_language(voice_language(&book));
        let Some(chapter) = book.chapters.iter().find(|c| c.words() > 0) else {
            return Ok(StageOutput { outputs: vec![], summary: json!({"skipped": "no text to narrate"}) });
        };
        let text = opening(chapter, opts.words_per_minute);
        let preview = preview_text(&text, PREVIEW_SECONDS, opts.words_per_minute);
        let audio = narrate(preview, &opts).await.map_err(media_error)?;
        let artifact = ctx.store(kinds::NARRATION_PREVIEW, audio.media_type, audio.bytes).await?;
        Ok(StageOutput {
            summary: json!({"chapter": chapter.index, "duration_ms": audio.duration_ms,
                            "words": bindery_core::book::count_words(preview), "voice": opts.voice_language}),
            outputs: vec![artifact],
        })
    }
}

/// The beginning of a chapter's text (its paragraphs separated by blank
/// lines), as much as [`preview_text`] reads for the preview: it looks at no
/// more than [`MAX_BYTES_PER_WORD`] bytes per word of its budget and the
/// character after them, so a chapter that is a whole long text is not
/// copied to give a minute of speech. The preview is the same as from the
/// whole chapter.
fn opening(chapter: &Chapter, words_per_minute: u32) -> String {
    let budget = u64::from(PREVIEW_SECONDS) * u64::from(words_per_minute) / 60;
    let read = usize::try_from(budget.saturating_mul(MAX_BYTES_PER_WORD)).unwrap_or(usize::MAX);
    // A margin beyond what is read, for the whitespace the preview trims.
    let limit = read.saturating_add(1024);
    let mut text = String::new();
    let mut paragraphs = chapter.paragraphs.iter();
    for p in paragraphs.by_ref() {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(p);
        if text.len() > limit {
            break;
        }
    }
    // Only a chapter padded with whitespace beyond the margin needs all its text.
    if paragraphs.len() > 0 && text.trim().len() <= read {
        return chapter.text();
    }
    text
}

/// The voice language: the book's, or English when undetermined.
fn voice_language(book: &Book) -> &str {
    match book.language.as_str() {
        "und" | "" => "en",
        l => l,
    }
}

/// Narrates a whole chapter (1-based `index`) of `book`.
pub async fn narrate_chapter(book: &Book, index: u32, format: AudioFormat) -> Result<Narration, StageError> {
    let chapter = book.chapters.iter().find(|c| c.index == index).ok_or_else(|| {
        StageError::Permanent(format!("the book has no chapter {index} (1..={})", book.chapters.len()))
    })?;
    let opts = NarrateOptions { format, ..NarrateOptions::for_language(voice_language(book)) };
    let text = format!("{}.\n\n{}", chapter.title, chapter.text());
    narrate(&text, &opts).await.map_err(media_error)
}

pub(crate) fn media_error(e: MediaError) -> StageError {
    if e.is_retryable() {
        StageError::Retryable(e.to_string())
    } else {
        StageError::Permanent(e.to_string())
    }
}
