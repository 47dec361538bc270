//! Narration through the real espeak-ng and ffmpeg programs.

mod common;

use std::time::{Duration, Instant};

use bindery_media::duration::{mp3_duration_ms, ogg_opus_duration_ms};
use bindery_media::{narrate, tool_versions, AudioFormat, MediaError, NarrateOptions, Narration};

const ENGLISH: &str = "Alice was beginning to get very tired of sitting by her sister on the bank, \
                       and of having nothing to do.";
const FRENCH: &str = "Phileas Fogg était l'un des membres les plus singuliers et les plus remarqués \
                      du Reform-Club de Londres.";

/// Checks a narration against bounds derived from the word count and the rate,
/// and against ffprobe's own reading of the bytes when ffprobe is installed.
fn check_duration(narration: &Narration, text: &str, words_per_minute: u32) {
    let words = text.split_whitespace().count() as f64;
    let expected_ms = words / f64::from(words_per_minute) * 60_000.0;
    let actual = narration.duration_ms as f64;
    assert!(
        actual > expected_ms * 0.5 && actual < expected_ms * 2.0 + 1500.0,
        "duration {actual} ms implausible for {words} words at {words_per_minute} wpm (expected ≈ {expected_ms:.0} ms)"
    );
    if let Some(probed) = common::ffprobe_duration_ms(&narration.bytes) {
        let diff = probed.abs_diff(narration.duration_ms);
        assert!(diff <= 120, "our duration {} ms vs ffprobe {probed} ms", narration.duration_ms);
    }
}

#[tokio::test]
async fn english_opus_is_an_ogg_stream_of_plausible_length() {
    if !common::tools_present() {
        return;
    }
    let opts = NarrateOptions::for_language("en");
    let narration = narrate(ENGLISH, &opts).await.expect("narrate English");
    assert!(narration.bytes.starts_with(b"OggS"));
    assert_eq!(narration.media_type, "audio/ogg");
    assert_eq!(ogg_opus_duration_ms(&narration.bytes), Some(narration.duration_ms));
    check_duration(&narration, ENGLISH, opts.words_per_minute);
    // ~32 kb/s: a few seconds of speech is a few kilobytes, far below a WAV (44 kB per second).
    let bytes_per_second = narration.bytes.len() as u64 * 1000 / narration.duration_ms;
    assert!(bytes_per_second < 8_000, "{bytes_per_second} B/s is not ~32 kb/s Opus");
}

#[tokio::test]
async fn french_mp3_is_an_mpeg_stream_of_plausible_length() {
    if !common::tools_present() {
        return;
    }
    let opts = NarrateOptions { format: AudioFormat::Mp3, ..NarrateOptions::for_language("fr") };
    let narration = narrate(FRENCH, &opts).await.expect("narrate French");
    let has_id3 = narration.bytes.starts_with(b"ID3");
    let has_frame_sync = narration.bytes.len() > 2 && narration.bytes[0] == 0xFF && narration.bytes[1] & 0xE0 == 0xE0;
    assert!(has_id3 || has_frame_sync, "not an MP3 stream");
    assert_eq!(narration.media_type, "audio/mpeg");
    assert_eq!(mp3_duration_ms(&narration.bytes), Some(narration.duration_ms));
    check_duration(&narration, FRENCH, opts.words_per_minute);
}

#[tokio::test]
async fn french_opus_is_slower_to_speak_at_a_lower_rate() {
    if !common::tools_present() {
        return;
    }
    let fast = NarrateOptions { words_per_minute: 260, ..NarrateOptions::for_language("fr") };
    let slow = NarrateOptions { words_per_minute: 130, ..NarrateOptions::for_language("fr") };
    let fast = narrate(FRENCH, &fast).await.expect("fast");
    let slow = narrate(FRENCH, &slow).await.expect("slow");
    assert!(fast.bytes.starts_with(b"OggS") && slow.bytes.starts_with(b"OggS"));
    assert!(slow.duration_ms > fast.duration_ms * 3 / 2, "slow {} vs fast {}", slow.duration_ms, fast.duration_ms);
}

#[tokio::test]
async fn narrating_the_same_text_twice_gives_the_same_bytes() {
    if !common::tools_present() {
        return;
    }
    let opts = NarrateOptions::for_language("en");
    let first = narrate("The same words, twice.", &opts).await.expect("first");
    let second = narrate("The same words, twice.", &opts).await.expect("second");
    assert_eq!(first.bytes, second.bytes, "content-addressed storage relies on stable output");
}

#[tokio::test]
async fn text_without_letters_is_refused_as_permanent_bad_input() {
    let error = narrate("  … — !  ", &NarrateOptions::default()).await.unwrap_err();
    assert!(matches!(error, MediaError::InvalidInput(_)), "{error:?}");
    assert!(!error.is_retryable());
    let error = narrate("Hello.", &NarrateOptions::for_language("en; rm -rf /")).await.unwrap_err();
    assert!(matches!(error, MediaError::InvalidInput(_)), "{error:?}");
}

#[tokio::test]
async fn tool_versions_names_both_programs() {
    if !common::tools_present() {
        return;
    }
    let versions = tool_versions().await.expect("tools installed");
    assert!(versions.espeak_ng.to_lowercase().contains("espeak"), "{versions:?}");
    assert!(versions.ffmpeg.starts_with("ffmpeg version"), "{versions:?}");
}

/// Prints how many times faster than real time a ~1,000-word narration runs (no timing assertion).
#[tokio::test]
async fn real_time_factor_on_a_thousand_words() {
    let Some(corpus) = common::corpus_dir() else { return };
    if !common::tools_present() {
        return;
    }
    let text = std::fs::read_to_string(corpus.join("books/en-alice-in-wonderland.txt")).expect("read Alice");
    let body = common::gutenberg_body(&text);
    let start = body.find("CHAPTER I.").expect("chapter I");
    let words: Vec<&str> = body[start..].split_whitespace().take(1000).collect();
    let passage = words.join(" ");
    for format in [AudioFormat::Opus, AudioFormat::Mp3] {
        let opts = NarrateOptions { format, timeout: Duration::from_secs(300), ..NarrateOptions::for_language("en") };
        let started = Instant::now();
        let narration = narrate(&passage, &opts).await.expect("narrate 1,000 words");
        let elapsed = started.elapsed();
        check_duration(&narration, &passage, opts.words_per_minute);
        println!(
            "real-time factor ({format:?}): {:.1}× — {} words, {:.1} s of speech in {:.2} s, {} bytes",
            narration.duration_ms as f64 / 1000.0 / elapsed.as_secs_f64(),
            words.len(),
            narration.duration_ms as f64 / 1000.0,
            elapsed.as_secs_f64(),
            narration.bytes.len()
        );
    }
}
