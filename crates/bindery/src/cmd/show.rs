//! `bindery show`: a document's state, progress and results.

use crate::config::Settings;
use anyhow::Result;
use bindery_core::DocumentState;
use serde_json::{json, Value};
use std::process::ExitCode;

/// The document as JSON: the shape `show --json` and `process --json` print.
pub fn document_json(s: &DocumentState) -> Value {
    let extract = s.results.get("extract");
    let chapters: Vec<Value> =
        s.results.get("count").and_then(|c| c["chapters"].as_array().cloned()).unwrap_or_default();
    json!({
        "id": s.id,
        "source": s.source,
        "status": s.status.as_str(),
        "error": s.error,
        "media_type": s.media_type,
        "bytes": s.bytes,
        "pipeline": s.pipeline,
        "pipeline_version": s.pipeline_version,
        "title": extract.and_then(|e| e.get("title")).cloned().unwrap_or(Value::Null),
        "author": extract.and_then(|e| e.get("author")).cloned().unwrap_or(Value::Null),
        "language": extract.and_then(|e| e.get("language")).cloned().unwrap_or(Value::Null),
        "words": s.results.get("count").and_then(|c| c.get("words")).cloned().unwrap_or(Value::Null),
        "chapters": chapters,
        "progress": s.progress(),
        "stages": s.stages,
        "artifacts": s.artifacts,
        "created_ms": s.created_ms,
        "finished_ms": s.finished_ms,
        "version": s.version,
    })
}

pub async fn show(s: &Settings, id: &str, json: bool) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let Some(doc) = engine.store().document(id).await? else {
        eprintln!("error: no document {id}");
        return Ok(ExitCode::FAILURE);
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&document_json(&doc))?);
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
    let j = document_json(&doc);
    if let Some(chapters) = j["chapters"].as_array().filter(|c| !c.is_empty()) {
        println!("chapters  {} ({} words)", chapters.len(), j["words"]);
        for c in chapters {
            println!("  {:>3}. {}  ({} words)", c["index"], c["title"].as_str().unwrap_or(""), c["words"]);
        }
    }
    Ok(ExitCode::SUCCESS)
}
