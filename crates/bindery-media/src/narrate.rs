//! Text-to-speech narration: espeak-ng piped into ffmpeg.
//!
//! Bindery offers an audio rendition of every chapter without depending on a
//! cloud service, so it drives two widely packaged programs: espeak-ng turns
//! text into a WAV stream and ffmpeg compresses that stream to Opus (in Ogg) or
//! MP3. espeak's stdout is handed to ffmpeg's stdin as a plain OS pipe, so the
//! uncompressed audio never passes through (or accumulates in) this process;
//! only the small compressed result is collected. Both children are killed when
//! the deadline passes or the future is dropped, and are reaped before
//! `narrate` returns so no zombie outlives a call.

use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::duration::{mp3_duration_ms, ogg_opus_duration_ms};
use crate::error::MediaError;

const ESPEAK: &str = "espeak-ng";
const FFMPEG: &str = "ffmpeg";
const ESPEAK_HINT: &str = "install espeak-ng (Debian/Ubuntu: apt-get install espeak-ng)";
const FFMPEG_HINT: &str = "install ffmpeg with libopus and libmp3lame (Debian/Ubuntu: apt-get install ffmpeg)";
/// How much of a failing tool's stderr is kept for the error message.
const STDERR_TAIL_BYTES: usize = 2048;

/// The compressed audio container/codec produced by [`narrate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioFormat {
    /// Opus in an Ogg container, ~32 kb/s mono: the smallest files for speech.
    Opus,
    /// MP3, ~64 kb/s mono: for players that cannot handle Opus.
    Mp3,
}

impl AudioFormat {
    /// The IANA media type of the produced bytes.
    pub fn media_type(self) -> &'static str {
        match self {
            AudioFormat::Opus => "audio/ogg",
            AudioFormat::Mp3 => "audio/mpeg",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            AudioFormat::Opus => "opus",
            AudioFormat::Mp3 => "mp3",
        }
    }

    /// The ffmpeg output arguments. `bitexact` keeps the Ogg serial number and
    /// encoder tags stable, so narrating the same text twice yields the same
    /// bytes and therefore the same content-addressed blob key.
    fn ffmpeg_output_args(self) -> &'static [&'static str] {
        match self {
            // Compression level 5 instead of libopus's 10: about 40% less CPU
            // for speech at the same size, which matters at 1,700 books a day.
            AudioFormat::Opus => &[
                "-ac",
                "1",
                "-ar",
                "48000",
                "-c:a",
                "libopus",
                "-b:a",
                "32k",
                "-application",
                "voip",
                "-compression_level",
                "5",
                "-f",
                "ogg",
            ],
            AudioFormat::Mp3 => &["-ac", "1", "-ar", "22050", "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
        }
    }
}

/// How to narrate a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NarrateOptions {
    /// A language code such as "en" or "fr" (mapped to an espeak voice), or an espeak voice name such as "en-us".
    pub voice_language: String,
    /// Speaking rate; espeak accepts 80–450 and the value is clamped to that range.
    pub words_per_minute: u32,
    pub format: AudioFormat,
    /// Wall-clock limit for the whole espeak + ffmpeg run.
    pub timeout: Duration,
}

impl Default for NarrateOptions {
    fn default() -> Self {
        NarrateOptions {
            voice_language: "en".to_owned(),
            words_per_minute: 175,
            format: AudioFormat::Opus,
            timeout: Duration::from_secs(600),
        }
    }
}

impl NarrateOptions {
    /// Default options for a book language ("en", "fr", …).
    pub fn for_language(language: &str) -> Self {
        NarrateOptions { voice_language: language.to_owned(), ..Self::default() }
    }
}

/// Compressed speech and what is needed to store and play it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narration {
    pub bytes: Vec<u8>,
    /// Playing time, read back from the produced stream (Ogg granule position or MP3 frame count).
    pub duration_ms: u64,
    pub media_type: &'static str,
}

/// Versions reported by the external programs narration depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolVersions {
    pub espeak_ng: String,
    pub ffmpeg: String,
}

/// Maps a book language to an espeak-ng voice. Unknown but well-formed codes
/// are passed through (espeak knows ~100 languages); anything else is rejected
/// rather than handed to a command line.
pub fn voice_for_language(language: &str) -> Result<&str, MediaError> {
    let voice = match language.trim() {
        "" | "und" | "en" => "en-gb",
        "fr" => "fr-fr",
        "pt" => "pt-br",
        other => other,
    };
    let well_formed = voice.len() <= 24
        && voice.starts_with(|c: char| c.is_ascii_alphabetic())
        && voice.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if well_formed {
        Ok(voice)
    } else {
        Err(MediaError::InvalidInput(format!("not a language or voice name: {language:?}")))
    }
}

/// Speaks `text` with espeak-ng and compresses it with ffmpeg, within `opts.timeout`.
pub async fn narrate(text: &str, opts: &NarrateOptions) -> Result<Narration, MediaError> {
    let text = text.trim();
    if !text.chars().any(char::is_alphanumeric) {
        return Err(MediaError::InvalidInput("nothing to narrate: the text has no letters or digits".into()));
    }
    let voice = voice_for_language(&opts.voice_language)?;
    let rate = opts.words_per_minute.clamp(80, 450).to_string();

    let mut espeak = Command::new(ESPEAK)
        .args(["--stdin", "-b", "1", "--stdout", "-v", voice, "-s", &rate])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| spawn_error(ESPEAK, ESPEAK_HINT, e))?;
    let wav: Stdio = match espeak.stdout.take().map(TryInto::try_into) {
        Some(Ok(pipe)) => pipe,
        other => {
            reap(&mut espeak).await;
            let why = match other {
                Some(Err(e)) => e.to_string(),
                _ => "stdout was not captured".to_owned(),
            };
            return Err(MediaError::ToolFailed { tool: ESPEAK, status: None, stderr_tail: why });
        }
    };
    let mut ffmpeg = match Command::new(FFMPEG)
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-f", "wav", "-i", "pipe:0", "-vn", "-map_metadata"])
        .args(["-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"])
        .args(opts.format.ffmpeg_output_args())
        .arg("pipe:1")
        .stdin(wav)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            reap(&mut espeak).await;
            return Err(spawn_error(FFMPEG, FFMPEG_HINT, e));
        }
    };

    let outcome = tokio::time::timeout(opts.timeout, run_pipeline(text, &mut espeak, &mut ffmpeg)).await;
    match outcome {
        Ok(result) => {
            let audio = result?;
            let duration = match opts.format {
                AudioFormat::Opus => ogg_opus_duration_ms(&audio),
                AudioFormat::Mp3 => mp3_duration_ms(&audio),
            };
            let duration_ms = duration.ok_or_else(|| MediaError::ToolFailed {
                tool: FFMPEG,
                status: Some(0),
                stderr_tail: format!("produced {} bytes that are not a valid {:?} stream", audio.len(), opts.format),
            })?;
            tracing::debug!(voice, bytes = audio.len(), duration_ms, "narrated text");
            Ok(Narration { bytes: audio, duration_ms, media_type: opts.format.media_type() })
        }
        Err(_elapsed) => {
            // Kill and reap both before reporting, so a timed-out call leaves no process behind.
            reap(&mut espeak).await;
            reap(&mut ffmpeg).await;
            tracing::warn!(voice, after = ?opts.timeout, "narration timed out");
            Err(MediaError::Timeout { tool: "espeak-ng | ffmpeg", after: opts.timeout })
        }
    }
}

/// Feeds the text, drains every pipe concurrently (a full stderr pipe would
/// otherwise stall a child) and waits for both programs.
async fn run_pipeline(text: &str, espeak: &mut Child, ffmpeg: &mut Child) -> Result<Vec<u8>, MediaError> {
    let stdin = espeak.stdin.take();
    let feed = async move {
        let Some(mut stdin) = stdin else { return Ok(()) };
        stdin.write_all(text.as_bytes()).await?;
        // Dropping stdin closes it, which tells espeak the text is complete.
        stdin.shutdown().await
    };
    let audio = read_all(ffmpeg.stdout.take());
    let espeak_err = read_tail(espeak.stderr.take());
    let ffmpeg_err = read_tail(ffmpeg.stderr.take());
    let (fed, audio, espeak_err, ffmpeg_err, espeak_status, ffmpeg_status) =
        tokio::join!(feed, audio, espeak_err, ffmpeg_err, espeak.wait(), ffmpeg.wait());

    let espeak_status = espeak_status.map_err(|e| wait_error(ESPEAK, e))?;
    if !espeak_status.success() {
        return Err(MediaError::ToolFailed { tool: ESPEAK, status: espeak_status.code(), stderr_tail: espeak_err });
    }
    if let Err(e) = fed {
        return Err(MediaError::ToolFailed { tool: ESPEAK, status: None, stderr_tail: format!("writing text: {e}") });
    }
    let ffmpeg_status = ffmpeg_status.map_err(|e| wait_error(FFMPEG, e))?;
    if !ffmpeg_status.success() {
        return Err(MediaError::ToolFailed { tool: FFMPEG, status: ffmpeg_status.code(), stderr_tail: ffmpeg_err });
    }
    audio.map_err(|e| MediaError::ToolFailed {
        tool: FFMPEG,
        status: None,
        stderr_tail: format!("reading output: {e}"),
    })
}

/// Checks that espeak-ng and ffmpeg (with the libopus and libmp3lame encoders) are installed,
/// returning the first line of each program's version banner.
pub async fn tool_versions() -> Result<ToolVersions, MediaError> {
    let espeak_ng = first_line(&capture(ESPEAK, ESPEAK_HINT, &["--version"]).await?);
    let ffmpeg = first_line(&capture(FFMPEG, FFMPEG_HINT, &["-hide_banner", "-version"]).await?);
    let encoders = capture(FFMPEG, FFMPEG_HINT, &["-hide_banner", "-encoders"]).await?;
    for encoder in ["libopus", "libmp3lame"] {
        if !encoders.split_whitespace().any(|word| word == encoder) {
            return Err(MediaError::MissingTool { tool: "ffmpeg encoder libopus/libmp3lame", hint: FFMPEG_HINT });
        }
    }
    Ok(ToolVersions { espeak_ng, ffmpeg })
}

async fn capture(tool: &'static str, hint: &'static str, args: &[&str]) -> Result<String, MediaError> {
    let limit = Duration::from_secs(20);
    let output = Command::new(tool).args(args).stdin(Stdio::null()).kill_on_drop(true).output();
    let output = tokio::time::timeout(limit, output)
        .await
        .map_err(|_| MediaError::Timeout { tool, after: limit })?
        .map_err(|e| spawn_error(tool, hint, e))?;
    if !output.status.success() {
        let stderr_tail = tail_string(&output.stderr);
        return Err(MediaError::ToolFailed { tool, status: output.status.code(), stderr_tail });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn first_line(text: &str) -> String {
    text.lines().find(|line| !line.trim().is_empty()).unwrap_or_default().trim().to_owned()
}

fn spawn_error(tool: &'static str, hint: &'static str, error: std::io::Error) -> MediaError {
    if error.kind() == std::io::ErrorKind::NotFound {
        MediaError::MissingTool { tool, hint }
    } else {
        MediaError::ToolFailed { tool, status: None, stderr_tail: format!("could not start: {error}") }
    }
}

fn wait_error(tool: &'static str, error: std::io::Error) -> MediaError {
    MediaError::ToolFailed { tool, status: None, stderr_tail: format!("could not wait for the process: {error}") }
}

/// Kills a child (if still running) and waits for it, so it does not linger as a zombie.
async fn reap(child: &mut Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut bytes).await?;
    }
    Ok(bytes)
}

/// Drains a pipe, keeping only its last bytes: enough to explain a failure
/// without letting a chatty tool grow this process's memory.
async fn read_tail(pipe: Option<impl AsyncRead + Unpin>) -> String {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else { return String::new() };
    let mut chunk = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&chunk[..n]);
        if kept.len() > 2 * STDERR_TAIL_BYTES {
            kept.drain(..kept.len() - STDERR_TAIL_BYTES);
        }
    }
    tail_string(&kept)
}

fn tail_string(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(STDERR_TAIL_BYTES);
    String::from_utf8_lossy(&bytes[start..]).trim().to_owned()
}
