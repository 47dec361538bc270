//! The child's side: one request from the command line, answers on stdout.
//!
//! The request is one JSON argument (paths, never file contents). The child
//! prints a [`Message::Phase`] line as it moves through the file, so a crash
//! can be reported with where it happened, then exactly one
//! [`Message::Done`] or [`Message::Failed`], and exits 0. Anything else (a
//! signal, an abort, a non-zero exit, no final message) is a crash, judged
//! by the parent.

use crate::book::extract::{extract_pages, Failure};
use bindery_pdf::{DocKind, OpenOptions};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// One piece of work on an untrusted file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The `extract` stage's work: the `pages` JSON Lines of a PDF or EPUB
    /// written to `out`, within the instance's per-document `limits`;
    /// answers the stage's summary.
    Extract {
        source: PathBuf,
        kind: DocKind,
        out: PathBuf,
        #[serde(default)]
        limits: OpenOptions,
    },
}

/// One line of the child's standard output.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// What the child is reading now, in words ("page 12", "the outline").
    Phase(String),
    Done(serde_json::Value),
    /// The file was refused with a reason: `memory` when MuPDF could not
    /// allocate under the limit, `retryable` when the fault was the disk's.
    Failed {
        message: String,
        retryable: bool,
        memory: bool,
    },
}

/// Serves one request given as the first of `args`, then returns the
/// process's exit code. The `bindery` binary calls this for `bindery
/// __parse REQUEST`, and `bindery-parse` for `bindery-parse REQUEST`.
pub fn serve(mut args: impl Iterator<Item = OsString>) -> ExitCode {
    let request = args.next().and_then(|a| a.into_string().ok()).map(|a| serde_json::from_str::<Request>(&a));
    let request = match request {
        Some(Ok(request)) => request,
        Some(Err(e)) => {
            eprintln!("bindery-parse: bad request: {e}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("usage: bindery-parse REQUEST-JSON (run by Bindery's stages, not by hand)");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let mut say = |m: &Message| {
        // A parent that went away cannot be told anything; the child simply ends.
        let _ = serde_json::to_writer(&mut out, m).map(|_| out.write_all(b"\n")).map(|_| out.flush());
    };
    let answer = match request {
        Request::Extract { source, kind, out: pages, limits } => {
            extract_pages(&source, kind, &pages, &limits, &mut |phase| say(&Message::Phase(phase))).map(|header| {
                serde_json::json!({"pages": header.pages, "ocr_pages": header.ocr_pages.len(),
                                   "outline": header.outline.len(), "title": header.title, "author": header.author})
            })
        }
    };
    say(&match answer {
        Ok(value) => Message::Done(value),
        Err(Failure::Pdf(e)) => {
            Message::Failed { message: e.to_string(), retryable: e.is_retryable(), memory: e.is_out_of_memory() }
        }
        Err(Failure::Io(e)) => Message::Failed { message: format!("local disk: {e}"), retryable: true, memory: false },
    });
    ExitCode::SUCCESS
}
