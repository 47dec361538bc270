//! `bindery events`: the log as CloudEvents.

use crate::config::Settings;
use anyhow::Result;
use bindery_core::event::StoredEvent;
use futures::StreamExt;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

pub async fn events(s: &Settings, document: Option<String>, after: i64, follow: bool, json: bool) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let store = engine.store().clone();
    let mut out = std::io::stdout().lock();
    let mut print = |e: &StoredEvent| -> Result<()> {
        if json {
            writeln!(out, "{}", serde_json::to_string(&e.to_cloud_event())?)?;
        } else {
            let ce = e.to_cloud_event();
            writeln!(out, "{:>8}  {}  {:<20} {}  {}", ce.sequence, ce.time, ce.ty, ce.subject, ce.data)?;
        }
        out.flush()?;
        Ok(())
    };
    if !follow {
        let mut last = after;
        loop {
            let page = match &document {
                // Per stream the cursor is the version; `--after` still
                // filters on the global sequence.
                Some(d) => store.read_stream(d, last, 1000).await?,
                None => store.read_all(last, 1000).await?,
            };
            let Some(tail) = page.last() else { break };
            last = if document.is_some() { tail.version } else { tail.sequence };
            for e in page.iter().filter(|e| e.sequence > after) {
                print(e)?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut sub = Box::pin(bindery_store::subscribe(store, after, Duration::from_millis(500)));
    loop {
        tokio::select! {
            next = sub.next() => match next {
                Some(e) => {
                    let e = e?;
                    if document.as_deref().is_none_or(|d| d == e.stream) {
                        print(&e)?;
                    }
                }
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}
