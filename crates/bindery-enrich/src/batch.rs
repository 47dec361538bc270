//! The Batch API path: the requests the cache cannot answer go to the provider as one batch (half the price, no
//! rate-limit storm at the evening peak), and the analysis waits for it, run after run, without holding a worker.
//!
//! Each run of the analysis calls [`collect`], which finds where the document's batch stands and says either
//! "wait and look again" ([`Collected::Pending`], which the engine turns into a job that sleeps without losing an
//! attempt) or "here are the answers it produced" (possibly none: the caller answers the rest synchronously).
//!
//! A document is never sent twice:
//! - the batch of a document is found again by a record in the answer cache, under a key derived from the document
//!   and all its requests (so every run of the same analysis finds it);
//! - a process that dies between creating the batch and writing the record finds it on its next run in the
//!   provider's own list, by the same key in the batch's metadata;
//! - when the batch path gives up (deadline near, batch failed or expired, provider unreachable), it cancels the
//!   batch first and records that, then the caller answers synchronously; answers the batch did produce are used.

use crate::prompt::Prepared;
use bindery_analyze::{AnalyzeContext, AnalyzeError, AnswerCache};
use bindery_llm::{to_jsonl, BatchRequestLine, BatchResultLine, BatchStatus, ChatResponse, Client, LlmError, Usage};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

/// When the batch path is used, and how it waits.
#[derive(Clone, Debug)]
pub struct BatchOptions {
    /// Use a batch only when the document's deadline is at least this far away (1 hour).
    pub min_slack: Duration,
    /// Stop waiting, cancel the batch and answer synchronously once the deadline is this close (30 minutes: the
    /// time a synchronous analysis of a long book may take at the peak).
    pub sync_reserve: Duration,
    /// How often a pending batch is looked at (1 minute).
    pub poll: Duration,
    /// The largest output file read back (256 MiB).
    pub max_output_bytes: u64,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            min_slack: Duration::from_secs(3600),
            sync_reserve: Duration::from_secs(1800),
            poll: Duration::from_secs(60),
            max_output_bytes: 256 << 20,
        }
    }
}

/// What the batch of a document says now.
pub enum Collected {
    /// Look again after `after`.
    Pending { after: Duration, note: String },
    /// The batch is over (or was never made, or was given up): the answers it produced, by request key.
    Done { answers: HashMap<String, BatchAnswer>, used: bool },
}

/// One request's answer from a batch.
pub struct BatchAnswer {
    pub content: String,
    pub usage: Usage,
}

/// The record of a document's batch, kept in the answer cache.
#[derive(Serialize, Deserialize)]
struct Record {
    batch_id: String,
    requests: usize,
    /// Set once the batch path gave up on this batch (cancelled, or its results are not coming).
    abandoned: bool,
}

const META_KEY: &str = "bindery_key";
/// The batch's metadata entry naming its document.
const DOCUMENT_KEY: &str = "bindery_document";

/// The record's cache key: the document and every request of this analysis, so that every run finds the same one.
fn record_key(document: &str, all: &[&Prepared]) -> String {
    let mut h = Sha256::new();
    h.update(document.as_bytes());
    for p in all {
        h.update([0]);
        h.update(p.key.as_bytes());
    }
    format!("batch-{}", hex::encode(h.finalize()))
}

/// One analysis's requests, as the batch path sees them.
pub struct Requests<'a> {
    /// Every request of the analysis (they name its batch).
    pub all: &'a [&'a Prepared],
    /// Those the cache cannot answer.
    pub misses: &'a [&'a Prepared],
    /// Whether the deadline allows a new batch (an existing one is followed regardless).
    pub may_submit: bool,
    pub now_ms: i64,
}

/// Where the document's batch stands.
pub async fn collect(
    client: &Client,
    options: &BatchOptions,
    ctx: &AnalyzeContext,
    cache: &dyn AnswerCache,
    requests: Requests<'_>,
) -> Result<Collected, AnalyzeError> {
    let Requests { all, misses, may_submit, now_ms } = requests;
    let key = record_key(&ctx.document, all);
    let nothing = || Collected::Done { answers: HashMap::new(), used: false };
    let mut record = match cache.get(&key).await? {
        Some(bytes) => serde_json::from_slice::<Record>(&bytes).ok(),
        None => None,
    };
    // A batch created by a run that died before writing its record. Only a document with a deadline can have one,
    // so documents someone waits for skip the provider's batch list.
    if record.is_none() && ctx.deadline_ms.is_some() {
        if let Some(id) = find(client, &key).await {
            let r = Record { batch_id: id, requests: misses.len(), abandoned: false };
            save(cache, &key, &r).await?;
            record = Some(r);
        }
    }
    let Some(mut record) = record else {
        if !may_submit {
            return Ok(nothing());
        }
        return submit(client, options, ctx, cache, &key, misses).await;
    };
    if record.abandoned {
        return Ok(nothing());
    }
    let late = ctx.deadline_ms.is_some_and(|d| now_ms >= d - options.sync_reserve.as_millis() as i64);
    let batch = match client.batch(&record.batch_id).await {
        Ok(b) => b,
        Err(e) if !late && e.is_retryable() => {
            let note = format!("batch {}: provider unreachable ({e}); looking again later", record.batch_id);
            return Ok(Collected::Pending { after: options.poll, note });
        }
        Err(e) => {
            tracing::warn!(document = %ctx.document, batch = %record.batch_id, error = %e, "giving up on the batch");
            abandon(client, cache, &key, &mut record).await?;
            return Ok(nothing());
        }
    };
    match batch.status {
        BatchStatus::Validating | BatchStatus::InProgress | BatchStatus::Finalizing | BatchStatus::Cancelling
            if !late =>
        {
            let counts = batch.request_counts.unwrap_or_default();
            let note = format!(
                "batch {} {:?}: {} of {} answered",
                batch.id,
                batch.status,
                counts.completed + counts.failed,
                counts.total.max(record.requests as u64)
            );
            Ok(Collected::Pending { after: options.poll, note })
        }
        BatchStatus::Validating | BatchStatus::InProgress | BatchStatus::Finalizing | BatchStatus::Cancelling => {
            tracing::warn!(document = %ctx.document, batch = %batch.id, "deadline near: cancelling the batch");
            abandon(client, cache, &key, &mut record).await?;
            Ok(nothing())
        }
        BatchStatus::Failed => {
            tracing::warn!(document = %ctx.document, batch = %batch.id, errors = ?batch.errors, "the batch failed");
            abandon(client, cache, &key, &mut record).await?;
            Ok(nothing())
        }
        // Over: whatever it produced (all of it, or part of it when it expired or was cancelled).
        BatchStatus::Completed | BatchStatus::Expired | BatchStatus::Cancelled => {
            let answers = match &batch.output_file_id {
                Some(file) => match client.file_content(file, options.max_output_bytes).await {
                    Ok(bytes) => answers_of(&bytes),
                    Err(e) if e.is_retryable() && !late => {
                        let note = format!("batch {}: output not readable yet ({e})", batch.id);
                        return Ok(Collected::Pending { after: options.poll, note });
                    }
                    Err(e) => {
                        tracing::warn!(document = %ctx.document, batch = %batch.id, error = %e, "batch output lost");
                        HashMap::new()
                    }
                },
                None => HashMap::new(),
            };
            Ok(Collected::Done { answers, used: true })
        }
    }
}

/// Sends the misses as a new batch and records it.
async fn submit(
    client: &Client,
    options: &BatchOptions,
    ctx: &AnalyzeContext,
    cache: &dyn AnswerCache,
    key: &str,
    misses: &[&Prepared],
) -> Result<Collected, AnalyzeError> {
    let lines: Vec<BatchRequestLine> =
        misses.iter().map(|p| BatchRequestLine::chat(p.key.clone(), p.request.clone())).collect();
    let metadata =
        HashMap::from([(META_KEY.to_owned(), key.to_owned()), (DOCUMENT_KEY.to_owned(), ctx.document.clone())]);
    let created = async {
        let file = client.upload_batch_file(&format!("bindery-{}.jsonl", ctx.document), to_jsonl(&lines)).await?;
        client.create_batch(&file.id, metadata).await
    }
    .await;
    let batch_id = match created {
        Ok(b) => b.id,
        Err(e) => match find(client, key).await {
            // The provider made it although the answer was lost on the way.
            Some(id) => id,
            None => {
                tracing::warn!(document = %ctx.document, error = %e, "the batch could not be created; answering now");
                return Ok(Collected::Done { answers: HashMap::new(), used: false });
            }
        },
    };
    save(cache, key, &Record { batch_id: batch_id.clone(), requests: misses.len(), abandoned: false }).await?;
    let note = format!("batch {batch_id} submitted with {} requests", misses.len());
    Ok(Collected::Pending { after: options.poll, note })
}

/// Cancels the provider's unfinished batches made for `document` (their metadata names it), among its most recent
/// ones, for a document that was cancelled; returns how many. Their record stays: a reprocess finds the batch
/// cancelled and uses whatever it answered before, asking the rest synchronously, so nothing is sent twice.
pub async fn cancel_document(client: &Client, document: &str) -> Result<usize, LlmError> {
    let mut after: Option<String> = None;
    let mut cancelled = 0;
    for _ in 0..5 {
        let page = client.list_batches(after.as_deref(), 100).await?;
        let running = page.iter().filter(|b| {
            matches!(b.status, BatchStatus::Validating | BatchStatus::InProgress | BatchStatus::Finalizing)
                && b.metadata.as_ref().and_then(|m| m.get(DOCUMENT_KEY)).is_some_and(|d| d == document)
        });
        for b in running {
            client.cancel_batch(&b.id).await?;
            tracing::info!(document, batch = %b.id, "document cancelled: its batch is cancelled");
            cancelled += 1;
        }
        match page.last() {
            Some(last) if page.len() == 100 => after = Some(last.id.clone()),
            _ => break,
        }
    }
    Ok(cancelled)
}

/// The batch carrying `key` in its metadata, among the provider's most recent ones.
async fn find(client: &Client, key: &str) -> Option<String> {
    let mut after: Option<String> = None;
    for _ in 0..5 {
        let page = client.list_batches(after.as_deref(), 100).await.ok()?;
        if let Some(b) =
            page.iter().find(|b| b.metadata.as_ref().and_then(|m| m.get(META_KEY)).is_some_and(|k| k == key))
        {
            return Some(b.id.clone());
        }
        after = Some(page.last()?.id.clone());
    }
    None
}

async fn abandon(client: &Client, cache: &dyn AnswerCache, key: &str, record: &mut Record) -> Result<(), AnalyzeError> {
    // Cancelling is a courtesy to the bill; a batch that cannot be cancelled is over anyway or will expire.
    if let Err(e) = client.cancel_batch(&record.batch_id).await {
        tracing::debug!(batch = %record.batch_id, error = %e, "batch not cancelled");
    }
    record.abandoned = true;
    save(cache, key, record).await
}

async fn save(cache: &dyn AnswerCache, key: &str, record: &Record) -> Result<(), AnalyzeError> {
    cache.put(key, serde_json::to_vec(record).expect("records serialise")).await
}

/// The successful lines of an output file, by custom id (the request's key). Failed lines and lines that are not the
/// protocol's shape are left out: those requests are answered synchronously.
fn answers_of(bytes: &[u8]) -> HashMap<String, BatchAnswer> {
    let mut out = HashMap::new();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)) {
        let Ok(l) = serde_json::from_slice::<BatchResultLine>(line) else { continue };
        let Some(r) = l.response.filter(|r| r.status_code == 200) else { continue };
        let Ok(body) = serde_json::from_value::<ChatResponse>(r.body) else { continue };
        let content = body.choices.into_iter().next().map(|c| c.message.content).unwrap_or_default();
        out.insert(l.custom_id, BatchAnswer { content, usage: body.usage.unwrap_or_default() });
    }
    out
}
