//! The `bindery` binary: the CLI over the engine.
//!
//! `anyhow` lives here only; libraries return typed errors.

mod analyzer;
mod cli;
mod cmd;
mod config;

use anyhow::{Context, Result};
use bindery_blob::BlobStore;
use bindery_core::retry::RetryPolicy;
use bindery_engine::{Engine, EngineOptions, Failpoints};
use clap::Parser;
use cli::{Cli, Command};
use config::Settings;
use std::process::ExitCode;

/// The first argument that makes this process a parse child instead of the CLI (see `open`).
const PARSE_CHILD: &str = "__parse";

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|first| first == PARSE_CHILD) {
        return bindery_stages::sandbox::serve(args);
    }
    let cli = Cli::parse();
    end_quietly_when_the_reader_leaves(&cli.command);
    let settings = match Settings::resolve(&cli.global) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    limit_malloc_arenas(settings.malloc_arenas);
    init_logging(&settings, &cli.command);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(cmd::run(cli.command, settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Caps glibc's malloc arenas before any thread starts. glibc gives threads
/// up to eight arenas per core and returns little of an arena's freed memory
/// to the system, so stages that each peak on their own blocking thread left
/// the process holding the sum of their peaks: a text of 8 MiB without
/// chapters peaked at 203 MB of resident memory with the default and 131 MB
/// with two arenas (release build, 2 cores), at the same books per hour
/// (docs/benchmarks.md).
fn limit_malloc_arenas(arenas: u32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if arenas > 0 {
        // SAFETY: mallopt only sets a parameter of the allocator; called before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas.min(i32::MAX as u32) as i32);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = arenas;
}

/// Commands that only print what the store holds behave as Unix filters: when the reader of their output goes away
/// (`bindery events | head`), the process ends on SIGPIPE, quietly, as `cat` does, instead of panicking in
/// `println!` or reporting an error. Only these: the others write to sockets and to child processes' pipes
/// (tesseract, ffmpeg), where a peer that went away must be an error the code handles, never the process's death.
fn end_quietly_when_the_reader_leaves(command: &Command) {
    let filter = matches!(
        command,
        Command::Events { .. }
            | Command::Show { .. }
            | Command::Jobs { .. }
            | Command::Queues { .. }
            | Command::Search { .. }
            | Command::Dictionary { .. }
    );
    if filter {
        // SAFETY: called before any other thread exists; SIG_DFL is a valid disposition for SIGPIPE, which the Rust
        // runtime set to "ignore" at start-up.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
}

/// JSON logs on stderr, carrying the job, document and correlation ids of
/// the span they happen in. Long-running services log at `info`; one-shot
/// commands at `warn`, so progress bars stay readable. `BINDERY_LOG`
/// overrides (e.g. `BINDERY_LOG=debug`).
fn init_logging(s: &Settings, command: &Command) {
    let default = match command {
        Command::Worker { .. } => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BINDERY_LOG").unwrap_or_else(|_| default.into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if s.log_json {
        builder.json().with_current_span(true).with_span_list(false).init();
    } else {
        builder.init();
    }
}

/// Opens the store and blob storage the settings name.
pub async fn open(s: &Settings, opts: EngineOptions) -> Result<Engine> {
    Ok(open_with_analyzers(s, opts).await?.0)
}

/// [`open`], and the analyzers the engine's `enrich` stage was given, for the API to offer to projects.
pub async fn open_with_analyzers(s: &Settings, opts: EngineOptions) -> Result<(Engine, bindery_stages::Analyzers)> {
    if s.database_url.starts_with("sqlite:") || !s.storage.contains("://") {
        std::fs::create_dir_all(&s.data_dir).with_context(|| format!("creating data dir {}", s.data_dir.display()))?;
    }
    let store = bindery_store::connect(&s.database_url)
        .await
        .with_context(|| format!("opening database {}", redact(&s.database_url)))?;
    let blobs = BlobStore::from_url(&s.storage).with_context(|| format!("opening storage {}", s.storage))?;
    let analyzers = s.analyzer.build_all(|var| std::env::var(var).ok())?;
    let options = bindery_stages::BookOptions {
        sandbox: sandbox(s)?,
        wordnet_dir: s.wordnet_dir.clone(),
        font_dir: s.font_dir.clone(),
    };
    let registry = bindery_stages::registry_with_options(analyzers.clone(), options);
    Ok((Engine::new(store, blobs, registry, opts), analyzers))
}

/// Uploads are parsed in children with the settings' limits (see `bindery_stages::sandbox`).
fn sandbox(s: &Settings) -> Result<bindery_stages::Sandbox> {
    let (program, args) = parse_child()?;
    Ok(bindery_stages::Sandbox::new(bindery_stages::SandboxOptions {
        program,
        args,
        memory: s.parse_memory_mb << 20,
        timeout: s.parse_timeout,
        limits: s.limits.clone(),
        max_image_pixels: s.max_image_pixels,
        max_text_bytes: s.max_text_bytes,
    }))
}

/// The program that parses uploads: `bindery-parse` beside this executable when it is there and from this very
/// build, else this binary run again as `bindery __parse REQUEST`. Both serve the same requests with the same
/// code; `bindery-parse` links MuPDF and five system libraries where `bindery` links 57 (most of them Tesseract's),
/// so it starts in 1.7 ms instead of 10.6 and a born-digital book's three children cost a quarter less
/// (docs/benchmarks.md). The check runs once per process.
fn parse_child() -> Result<(std::path::PathBuf, Vec<std::ffi::OsString>)> {
    static CHOSEN: std::sync::OnceLock<(std::path::PathBuf, Vec<std::ffi::OsString>)> = std::sync::OnceLock::new();
    let exe = std::env::current_exe().context("finding this executable to run parse children")?;
    Ok(CHOSEN
        .get_or_init(|| {
            let small = exe.with_file_name(bindery_stages::sandbox::PARSE_EXE);
            match bindery_stages::sandbox::check_build(&small) {
                Ok(()) => (small, Vec::new()),
                Err(why) => {
                    // Missing is normal (`cargo install` of this crate alone); another build is worth a word.
                    if small.exists() {
                        tracing::warn!("parse children run `bindery {PARSE_CHILD}`, not bindery-parse: {why}");
                    }
                    (exe, vec![PARSE_CHILD.into()])
                }
            }
        })
        .clone())
}

pub fn engine_options(w: Option<&config::Worker>) -> Result<EngineOptions> {
    let failpoints = Failpoints::from_env().map_err(anyhow::Error::msg)?;
    let mut o = EngineOptions { failpoints, ..EngineOptions::default() };
    if let Some(w) = w {
        o.max_attempts = w.max_attempts;
        o.retry = RetryPolicy { base: w.retry_base, ..RetryPolicy::default() };
    }
    Ok(o)
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(c) => format!("{}:***{}", &url[..s + 3 + c], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}
