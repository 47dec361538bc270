//! `bindery process` (the main job) and `bindery submit`.

use super::show::document_json;
use crate::cli::WorkerArgs;
use crate::config::Settings;
use anyhow::Result;
use bindery_core::{DocumentState, DocumentStatus};
use bindery_engine::worker::Worker;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// One input file and what became of it.
struct Entry {
    source: String,
    id: Option<String>,
    error: Option<String>,
    bar: Option<ProgressBar>,
    /// One bar per stage, when few files are processed.
    stage_bars: Vec<(String, ProgressBar)>,
    state: Option<DocumentState>,
}

/// With this many files or fewer, each stage gets its own bar.
const STAGE_BARS_UP_TO: usize = 3;

pub async fn process(s: &Settings, paths: &[PathBuf], json: bool, args: &WorkerArgs) -> Result<ExitCode> {
    let w = s.worker(args)?;
    let engine = crate::open(s, crate::engine_options(Some(&w))?).await?;
    let started = Instant::now();
    let bars = MultiProgress::new();
    if json {
        bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let style = ProgressStyle::with_template("{spinner} {prefix:30!} [{bar:24}] {pos}/{len} {wide_msg}")
        .expect("valid template")
        .progress_chars("=> ");
    let mut entries = Vec::new();
    for path in paths {
        let source = path.display().to_string();
        let (id, error) = match engine.submit(path).await {
            Ok(sub) => (Some(sub.id.to_string()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let bar = id.as_ref().map(|_| {
            let b = bars.add(ProgressBar::new(1).with_style(style.clone()).with_prefix(short(&source)));
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        entries.push(Entry { source, id, error, bar, stage_bars: vec![], state: None });
    }
    let opts = w.options();
    let worker = Worker::new(engine.clone(), opts).run();
    let mut interrupted = false;
    loop {
        let mut all_done = true;
        for e in entries.iter_mut() {
            let Some(id) = &e.id else { continue };
            if e.state.as_ref().is_some_and(|s| s.status.is_terminal()) {
                continue;
            }
            // A store that cannot be read now is asked again at the next turn; the document keeps its line.
            let state = match engine.store().document(id).await {
                Ok(state) => state,
                Err(err) => {
                    tracing::warn!(document = %id, error = %err, "reading the document's state");
                    e.state.clone()
                }
            };
            if let (Some(st), Some(bar)) = (&state, &e.bar) {
                let p = st.progress();
                bar.set_length(p.total.max(1) as u64);
                bar.set_position(p.done as u64);
                match st.status {
                    DocumentStatus::Processing => bar.set_message(p.current_stage.clone().unwrap_or_default()),
                    other => bar.finish_with_message(other.as_str()),
                }
                if paths.len() <= STAGE_BARS_UP_TO {
                    update_stage_bars(&bars, bar, &mut e.stage_bars, st);
                }
            }
            all_done &= state.as_ref().is_some_and(|s| s.status.is_terminal());
            e.state = state;
        }
        if all_done {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = tokio::signal::ctrl_c() => { interrupted = true; break }
        }
    }
    worker.shutdown().await;
    bars.clear().ok();
    let mut all_ready = !interrupted;
    for e in &entries {
        let status = e.state.as_ref().map(|s| s.status.as_str()).unwrap_or("failed");
        all_ready &= status == "ready";
        if json {
            // Every document gets its line, whatever happened to it: one whose results cannot be read still says
            // its status and error.
            let mut obj = match &e.state {
                Some(st) => document_json(&engine, st)
                    .await
                    .unwrap_or_else(|err| json!({"id": e.id, "results_error": format!("{err:#}")})),
                None => json!({"id": e.id}),
            };
            obj["source"] = json!(e.source);
            obj["status"] = json!(status);
            obj["error"] = json!(e.state.as_ref().and_then(|s| s.error.clone()).or_else(|| e.error.clone()));
            println!("{obj}");
        } else {
            eprintln!("{}", summary_line(e));
        }
    }
    if !json {
        eprintln!("{} document(s) in {:.1} s", entries.len(), started.elapsed().as_secs_f64());
    }
    Ok(if interrupted {
        eprintln!("interrupted: unfinished jobs stay queued for `bindery worker`");
        ExitCode::from(130)
    } else if all_ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Keeps one bar per stage under the document's bar: waiting, running
/// (the first unfinished stage in pipeline order), done with its duration,
/// or retrying with the error.
fn update_stage_bars(
    bars: &MultiProgress,
    doc: &ProgressBar,
    stage_bars: &mut Vec<(String, ProgressBar)>,
    st: &DocumentState,
) {
    if stage_bars.is_empty() {
        let style = ProgressStyle::with_template("    {spinner} {prefix:12} [{bar:16}] {wide_msg}")
            .expect("valid template")
            .progress_chars("=> ");
        let mut after = doc.clone();
        for name in &st.stage_order {
            let b = bars.insert_after(&after, ProgressBar::new(1).with_style(style.clone()).with_prefix(name.clone()));
            b.set_message("waiting");
            after = b.clone();
            stage_bars.push((name.clone(), b));
        }
    }
    let current = st.progress().current_stage;
    for (name, bar) in stage_bars.iter() {
        let Some(stage) = st.stages.get(name) else { continue };
        if stage.completed {
            if !bar.is_finished() {
                bar.set_position(1);
                bar.finish_with_message(stage.duration_ms.map(|ms| format!("done in {ms} ms")).unwrap_or_default());
            }
        } else if stage.failures > 0 {
            bar.set_message(format!("retrying: {}", stage.last_error.as_deref().unwrap_or("")));
        } else if current.as_deref() == Some(name.as_str()) {
            bar.enable_steady_tick(Duration::from_millis(120));
            bar.set_message("running");
        }
        if st.status.is_terminal() && !bar.is_finished() {
            bar.abandon_with_message(st.status.as_str());
        }
    }
}

/// What became of one file, in a few lines: for a ready book its title,
/// shape, main characters and what was made, and where to look next.
fn summary_line(e: &Entry) -> String {
    match &e.state {
        Some(st) if st.status == DocumentStatus::Ready => {
            let r = |stage: &str, key: &str| st.results.get(stage).map(|v| v[key].clone()).unwrap_or_default();
            let secs = st.finished_ms.unwrap_or(st.updated_ms).saturating_sub(st.created_ms) as f64 / 1000.0;
            let title = r("structure", "title").as_str().map(|t| format!("“{t}”")).unwrap_or_else(|| "untitled".into());
            let author = r("structure", "author").as_str().map(|a| format!(" by {a}")).unwrap_or_default();
            let pages = r("structure", "pages").as_u64().map(|p| format!(", {p} pages")).unwrap_or_default();
            let ocr =
                r("ocr", "pages").as_u64().filter(|n| *n > 0).map(|n| format!(" ({n} by OCR)")).unwrap_or_default();
            let names: Vec<String> = r("enrich", "main_characters")
                .as_array()
                .into_iter()
                .flatten()
                .take(5)
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect();
            let made: Vec<&str> = [
                ("cover-480.webp", "cover"),
                ("narration-preview", "spoken preview"),
                ("dictionary", "dictionary"),
                ("thumbnails", "page thumbnails"),
            ]
            .iter()
            .filter(|(kind, _)| st.artifacts.iter().any(|a| a.kind == *kind))
            .map(|(_, label)| *label)
            .collect();
            format!(
                "ready   {}  {title}{author} ({}{pages}{ocr}), {} chapters, {} words, {secs:.1} s\n        \
                 characters: {}\n        made: {}, search index\n        \
                 see: bindery show {id} · bindery export {id} --format md -o book.md",
                e.source,
                r("structure", "language").as_str().unwrap_or("und"),
                r("structure", "chapters"),
                r("structure", "words"),
                if names.is_empty() { "none found".into() } else { names.join(", ") },
                made.join(", "),
                id = st.id,
            )
        }
        Some(st) => {
            format!("{:<7} {}  {}  (id {})", st.status.as_str(), e.source, st.error.as_deref().unwrap_or(""), st.id)
        }
        None => format!("failed  {}  {}", e.source, e.error.as_deref().unwrap_or("unknown error")),
    }
}

fn short(s: &str) -> String {
    std::path::Path::new(s).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| s.to_owned())
}

pub async fn submit(s: &Settings, paths: &[PathBuf], json: bool, deadline: Option<&str>) -> Result<ExitCode> {
    let now = bindery_core::time::now_ms();
    let deadline_ms =
        deadline.map(|d| bindery_core::time::parse_deadline(d, now)).transpose().map_err(anyhow::Error::msg)?;
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let mut ok = true;
    for path in paths {
        let submitted = match deadline_ms {
            None => engine.submit(path).await,
            Some(d) => {
                let options = bindery_engine::SubmitOptions { deadline_ms: Some(d), ..Default::default() };
                engine.submit_path_with(path, &options).await
            }
        };
        match submitted {
            Ok(sub) if json => println!("{}", json!({"id": sub.id, "source": sub.source, "created": sub.created})),
            Ok(sub) => {
                println!("{}\t{}{}", sub.id, path.display(), if sub.created { "" } else { "\t(already submitted)" })
            }
            Err(e) => {
                ok = false;
                if json {
                    println!(
                        "{}",
                        json!({"id": null, "source": path.display().to_string(), "created": false, "error": e.to_string()})
                    );
                } else {
                    eprintln!("error: {}: {e}", path.display());
                }
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
