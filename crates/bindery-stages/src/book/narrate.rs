//! `narrate`: a spoken preview, about the first minute of chapter 1, with
//! espeak-ng in the book's language, encoded to Opus. Whole chapters are
//! narrated on demand (`bindery narrate`) with [`narrate_chapter`].

use super::kinds;
use crate::stage::{Stage, StageContext, StageError, StageOutput};
use async_trait::async_trait;
use bindery_core::Book;
use bindery_media::{narrate, preview_text, AudioFormat, MediaError, NarrateOptions, Narration};
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
        let text = chapter.text();
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
