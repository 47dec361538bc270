//! `bindery show`: a document's state, progress and results.

use crate::config::Settings;
use anyhow::Result;
use bindery_core::DocumentState;
use bindery_engine::Engine;
use bindery_stages::book::view;
use serde_json::Value;
use std::process::ExitCode;

/// The document as JSON: the shape `show --json` and `process --json` print
/// (see `bindery_stages::book::view`).
pub async fn document_json(engine: &Engine, s: &DocumentState) -> Result<Value> {
    let loaded = view::load(s, engine.blobs()).await?;
    Ok(view::book_view(s, &loaded, false))
}

pub async fn show(s: &Settings, id: &str, json: bool) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let Some(doc) = engine.store().document(id).await? else {
        eprintln!("error: no document {id}");
        return Ok(ExitCode::FAILURE);
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&document_json(&engine, &doc).await?)?);
        return Ok(ExitCode::SUCCESS);
    }
    let p = doc.progress();
    println!("{}  {}", doc.id, doc.source);
    println!(
        "status    {}{}",
        doc.status.as_str(),
        doc.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
    );
    println!("pipeline  {} v{}", doc.pipeline, doc.pipeline_version);
    let eta = p.eta_ms.map(|ms| format!(", ETA {:.1} s", ms as f64 / 1000.0)).unwrap_or_default();
    println!(
        "progress  {}/{} stages, {}%{}{}",
        p.done,
        p.total,
        p.percent,
        p.current_stage.map(|c| format!(", now {c}")).unwrap_or_default(),
        eta
    );
    for name in &doc.stage_order {
        let st = &doc.stages[name];
        let mark = if st.completed {
            "done"
        } else if st.failures > 0 {
            "failing"
        } else {
            "waiting"
        };
        let ms = st.duration_ms.map(|d| format!(" {d} ms")).unwrap_or_default();
        let fails = if st.failures > 0 {
            format!(", {} failed attempt(s): {}", st.failures, st.last_error.as_deref().unwrap_or(""))
        } else {
            String::new()
        };
        println!("  {name:<12} {mark}{ms}{fails}");
    }
    let j = document_json(&engine, &doc).await?;
    let field = |k: &str| j[k].as_str().map(str::to_owned).unwrap_or_else(|| "-".into());
    println!("title     {}  by {}  ({}, {} pages)", field("title"), field("author"), field("language"), j["pages"]);
    if let Some(chapters) = j["chapters"].as_array().filter(|c| !c.is_empty()) {
        println!("chapters  {} ({} words)", chapters.len(), j["words"]);
        for c in chapters {
            println!("  {:>3}. {}  ({} words)", c["index"], c["title"].as_str().unwrap_or(""), c["words"]);
        }
    }
    let names = |k: &str| -> Vec<String> {
        j[k].as_array().into_iter().flatten().take(8).filter_map(|c| c["name"].as_str().map(str::to_owned)).collect()
    };
    if !names("characters").is_empty() {
        println!("characters {}", names("characters").join(", "));
    }
    if !names("places").is_empty() {
        println!("places    {}", names("places").join(", "));
    }
    if let Some(summary) = j["summary"].as_str().filter(|s| !s.is_empty()) {
        println!("summary   {summary}");
    }
    Ok(ExitCode::SUCCESS)
}
