//! Helpers shared by the integration tests: locating the corpus and asking ffprobe for durations.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The shared public-domain corpus, or `None` (with a note) when it is absent.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BINDERY_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: corpus absent at {}", dir.display());
        None
    }
}

/// Whether espeak-ng and ffmpeg are installed; tests needing them skip (loudly) otherwise.
pub fn tools_present() -> bool {
    let present = ["espeak-ng", "ffmpeg"]
        .iter()
        .all(|tool| Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok());
    if !present {
        eprintln!("skipping: espeak-ng or ffmpeg not installed (apt-get install espeak-ng ffmpeg)");
    }
    present
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
