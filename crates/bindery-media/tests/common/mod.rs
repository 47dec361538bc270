//! Helpers shared by the integration tests: locating the corpus and asking ffprobe for durations.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The shared public-domain corpus, or `None` (with a note, or a failure under CI) when it is absent.
pub fn corpus_dir() -> Option<PathBuf> {
    bindery_testkit::corpus("")
}

/// Whether espeak-ng and ffmpeg are installed; tests needing them skip (loudly) otherwise, and fail under CI.
pub fn tools_present() -> bool {
    bindery_testkit::tool("espeak-ng", "--version") && bindery_testkit::tool("ffmpeg", "-version")
}

/// The duration ffprobe reads from `bytes`, in milliseconds, or `None` without ffprobe.
pub fn ffprobe_duration_ms(bytes: &[u8]) -> Option<u64> {
    let file = tempfile::NamedTempFile::new().ok()?;
    std::fs::write(file.path(), bytes).ok()?;
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(file.path())
        .output()
        .ok()?;
    let seconds: f64 = String::from_utf8_lossy(&output.stdout).trim().parse().ok()?;
    Some((seconds * 1000.0).round() as u64)
}

/// The Project Gutenberg text between the START and END markers.
pub fn gutenberg_body(text: &str) -> &str {
    let start = text.find("*** START OF").and_then(|i| text[i..].find('\n').map(|j| i + j + 1)).unwrap_or(0);
    let end = text.find("*** END OF").unwrap_or(text.len());
    &text[start..end]
}
