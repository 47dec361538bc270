//! What a test does when its material is missing.
//!
//! Some tests need what a developer's machine may lack: the shared corpus
//! (`../shared/corpus`, beside the repository), a tool (tesseract, ffmpeg,
//! espeak-ng), a data package (WordNet, fonts). On a developer's machine
//! such a test skips and says why, so that the rest of the suite still
//! runs. Under `CI=true` it fails instead: CI installs everything with the
//! project's own scripts, so a missing piece there is a broken setup, and a
//! test that quietly passed without running would hide it.
//!
//! Every test crate asks here rather than deciding for itself, so the rule
//! holds everywhere and lives in one place.

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// True when the tests run in CI (`CI` set to anything but empty, `0` or
/// `false`, as CI services set it).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Reports that `what` is missing: fails the test under CI, otherwise
/// prints why the test skips. Callers return right after.
#[track_caller]
pub fn missing(what: impl Display) {
    if under_ci() {
        panic!("{what}, and CI must have it (the project's setup scripts install it)");
    }
    eprintln!("skipping: {what}");
}

/// Reports a missing thing when `present` is false, and returns `present`:
/// `if !testkit::require(tool_works, "ffmpeg is not installed") { return; }`.
#[track_caller]
pub fn require(present: bool, what: impl Display) -> bool {
    if !present {
        missing(what);
    }
    present
}

/// The shared corpus: `BINDERY_CORPUS` when set, else `../shared/corpus`
/// beside the repository. It may not exist; see [`corpus`].
pub fn corpus_root() -> PathBuf {
    std::env::var_os("BINDERY_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
}

/// The corpus file or folder `rel` (`"pdfs/en-alice-in-wonderland.pdf"`),
/// or `None` after [`missing`] when it is absent.
#[track_caller]
pub fn corpus(rel: &str) -> Option<PathBuf> {
    let path = corpus_root().join(rel);
    if path.exists() {
        Some(path)
    } else {
        missing(format!("the corpus has no {} (looked at {})", rel, path.display()));
        None
    }
}

/// True when `program` runs (`program ARG` starts and exits), after
/// reporting it missing otherwise.
#[track_caller]
pub fn tool(program: &str, arg: &str) -> bool {
    let runs = std::process::Command::new(program)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    require(runs, format_args!("{program} is not installed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_thing_fails_under_ci_and_skips_elsewhere() {
        assert!(require(true, "the sun"));
        let outcome = std::panic::catch_unwind(|| require(false, "the moon is not installed"));
        match outcome {
            Err(panic) if under_ci() => {
                let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
                assert!(message.starts_with("the moon is not installed, and CI must have it"), "{message}");
            }
            Ok(present) if !under_ci() => assert!(!present),
            _ => panic!("a missing thing must fail exactly under CI"),
        }
        if std::env::var_os("BINDERY_CORPUS").is_none() {
            assert!(corpus_root().ends_with("shared/corpus"), "{}", corpus_root().display());
        }
    }
}
