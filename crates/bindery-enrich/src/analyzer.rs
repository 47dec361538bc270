//! [`LlmAnalyzer`]: the [`Analyzer`] that asks an OpenAI-compatible model, chunk by chunk, and merges the answers.
//!
//! For each chunk: the cache first (a hit costs nothing); otherwise a chat completion with the chunk's JSON Schema; an
//! answer that does not pass [`accept`] is shown back to the model once with the reason; if the second answer fails
//! too, or the provider refuses that one request, the chunk is analysed offline and the reason recorded in the
//! report. An outage (rate limits, server errors, timeouts, an open circuit breaker: whatever is still failing after
//! the client's own retries) fails the whole analysis as retryable, so the engine tries the job again later; chunks
//! already answered are in the cache by then and are not paid for twice.
//!
//! With a batch configured and a document whose deadline allows it, the requests the cache cannot answer go first
//! through the Batch API (`crate::batch`): the analysis answers "pending" until the batch is over, then goes on as
//! above with the batch's answers standing for the first request of each chunk (checked and repaired the same way);
//! whatever the batch did not answer is asked synchronously. The whole-book summary depends on the chapters' answers
//! and is always a (small) synchronous request.

use crate::batch::{self, BatchAnswer, BatchOptions, Collected};
use crate::chunk::{chunks, Chunk};
use crate::extraction::{accept, accept_book, BookSummary};
use crate::merge::{merge, Answer};
use crate::prompt::{book_request, chapter_request, repair_request, Prepared, RequestShape, PROMPT_VERSION};
use async_trait::async_trait;
use bindery_analyze::{
    Analysis, AnalyzeContext, AnalyzeError, Analyzer, Fallback, Keyword, ModelReport, Offline, ProviderStatus,
};
use bindery_core::book::Book;
use bindery_core::time::now_ms;
use bindery_llm::{BreakerState, ChatRequest, Client, LlmError};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Settings of the language-model analyzer (the provider's own are in [`bindery_llm::ProviderOptions`]).
#[derive(Clone, Debug)]
pub struct LlmOptions {
    /// The most text sent in one request, in bytes (24,000: about 6,000 tokens, a long chapter).
    pub max_chunk_chars: usize,
    /// `max_tokens` of each answer (4,096).
    pub max_output_tokens: u32,
    /// 0 by default: extraction wants the likeliest answer, and a repeatable one.
    pub temperature: f32,
    /// Send the JSON Schema as `response_format` (true); false puts it in the prompt for servers without
    /// structured output.
    pub structured_output: bool,
    /// The Batch API path, for documents whose deadline allows it; `None` answers everything synchronously.
    pub batch: Option<BatchOptions>,
}

impl Default for LlmOptions {
    fn default() -> Self {
        LlmOptions {
            max_chunk_chars: 24_000,
            max_output_tokens: 4_096,
            temperature: 0.0,
            structured_output: true,
            batch: None,
        }
    }
}

pub struct LlmAnalyzer {
    client: Client,
    options: LlmOptions,
    name: String,
}

/// What the cache keeps per request: the accepted answer and what it cost when it was made.
#[derive(Serialize, Deserialize)]
struct CachedAnswer {
    content: String,
    prompt_tokens: u64,
    completion_tokens: u64,
}

/// What answering one request spent, and how it ended.
#[derive(Default)]
struct Spend {
    requests: u32,
    cached: bool,
    prompt_tokens: u64,
    completion_tokens: u64,
    /// Of the tokens above, those paid at the batch price.
    batch_prompt_tokens: u64,
    batch_completion_tokens: u64,
    fallback: Option<String>,
}

impl LlmAnalyzer {
    pub fn new(client: Client, options: LlmOptions) -> Self {
        let name = format!("{}:{}", client.options().name, client.options().model);
        LlmAnalyzer { client, options, name }
    }

    fn shape(&self) -> RequestShape {
        RequestShape {
            model: self.client.options().model.clone(),
            max_output_tokens: self.options.max_output_tokens,
            temperature: self.options.temperature,
            structured_output: self.options.structured_output,
        }
    }

    /// The cached bytes for a request, if any. The cache only saves money: one that cannot be read is a miss.
    async fn cached(&self, ctx: &AnalyzeContext, key: &str) -> Option<Vec<u8>> {
        let cache = ctx.cache.as_ref()?;
        match cache.get(key).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(document = %ctx.document, error = %e, "analyzer cache unreadable");
                None
            }
        }
    }

    /// Answers one prepared request: from its `cached` bytes (read once by the caller), or from the batch's answer
    /// or the model, with one repair. `Ok(None)` with `spend.fallback` set when the answer stays unusable; `Err` for
    /// outages and misconfiguration.
    async fn answer<T>(
        &self,
        prepared: &Prepared,
        ctx: &AnalyzeContext,
        cached: Option<Vec<u8>>,
        batched: Option<&BatchAnswer>,
        check: impl Fn(&str) -> Result<T, String>,
        spend: &mut Spend,
    ) -> Result<Option<T>, AnalyzeError> {
        if let Some(t) =
            cached.and_then(|b| serde_json::from_slice::<CachedAnswer>(&b).ok()).and_then(|c| check(&c.content).ok())
        {
            spend.cached = true;
            return Ok(Some(t));
        }
        let mut request: ChatRequest = prepared.request.clone();
        let mut problem = String::new();
        // The batch's answer, when there is one, stands for the first request.
        let mut first = batched.map(|b| {
            spend.requests += 1;
            spend.prompt_tokens += b.usage.prompt_tokens;
            spend.completion_tokens += b.usage.completion_tokens;
            spend.batch_prompt_tokens += b.usage.prompt_tokens;
            spend.batch_completion_tokens += b.usage.completion_tokens;
            b.content.clone()
        });
        for _ in 0..2 {
            let sent = match first.take() {
                Some(content) => Ok(content),
                None => self.send(&request, spend).await?,
            };
            let content = match sent {
                Ok(content) => content,
                Err(refused) => {
                    spend.fallback = Some(refused);
                    return Ok(None);
                }
            };
            match check(&content) {
                Ok(t) => {
                    if let Some(cache) = &ctx.cache {
                        let entry = CachedAnswer {
                            content,
                            prompt_tokens: spend.prompt_tokens,
                            completion_tokens: spend.completion_tokens,
                        };
                        let bytes = serde_json::to_vec(&entry).expect("cache entries serialise");
                        if let Err(e) = cache.put(&prepared.key, bytes).await {
                            tracing::warn!(document = %ctx.document, error = %e, "analyzer cache not written");
                        }
                    }
                    return Ok(Some(t));
                }
                Err(p) => {
                    // Once: the model sees its own answer and what is wrong with it.
                    request = repair_request(&prepared.request, &content, &p);
                    problem = p;
                }
            }
        }
        spend.fallback = Some(format!("the answer was unusable twice: {problem}"));
        Ok(None)
    }

    /// The batch path: `Ok(None)` when it is not used for this analysis (no batch configured, no cache to keep its
    /// record in, everything cached, or a deadline too near for a new batch); `Ok(Some(answers))` once the document's
    /// batch is over; `Err(Pending)` while it runs.
    async fn batch_answers(
        &self,
        ctx: &AnalyzeContext,
        prepared: &[(Chunk, Prepared)],
        cached: &[Option<Vec<u8>>],
    ) -> Result<Option<HashMap<String, BatchAnswer>>, AnalyzeError> {
        let (Some(options), Some(cache)) = (&self.options.batch, &ctx.cache) else { return Ok(None) };
        let misses: Vec<&Prepared> =
            prepared.iter().zip(cached).filter(|(_, c)| c.is_none()).map(|((_, p), _)| p).collect();
        if misses.is_empty() {
            return Ok(None);
        }
        let now = now_ms();
        let may_submit = ctx.deadline_ms.is_some_and(|d| d - now >= options.min_slack.as_millis() as i64);
        let all: Vec<&Prepared> = prepared.iter().map(|(_, p)| p).collect();
        let requests = batch::Requests { all: &all, misses: &misses, may_submit, now_ms: now };
        match batch::collect(&self.client, options, ctx, cache.as_ref(), requests).await? {
            Collected::Pending { after, note } => Err(AnalyzeError::Pending { after, note }),
            Collected::Done { answers, used: true } => Ok(Some(answers)),
            Collected::Done { used: false, .. } => Ok(None),
        }
    }

    /// One chat completion. `Ok(Err(reason))` when the provider refuses this request only (it is too long, or
    /// filtered): that chunk falls back. Outages and refusals that concern every request are `Err`.
    async fn send(&self, request: &ChatRequest, spend: &mut Spend) -> Result<Result<String, String>, AnalyzeError> {
        spend.requests += 1;
        match self.client.chat(request).await {
            Ok(response) => {
                if let Some(u) = &response.usage {
                    spend.prompt_tokens += u.prompt_tokens;
                    spend.completion_tokens += u.completion_tokens;
                }
                let content = response.choices.into_iter().next().map(|c| c.message.content).unwrap_or_default();
                Ok(Ok(content))
            }
            Err(LlmError::Refused { status, message, .. }) if status == 400 || status == 413 || status == 422 => {
                Ok(Err(format!("the provider refused the request ({status}): {message}")))
            }
            Err(e) if e.is_retryable() => Err(AnalyzeError::Retryable(format!("{}: {e}", self.name))),
            Err(e) => Err(AnalyzeError::Permanent(format!("{}: {e}", self.name))),
        }
    }
}

#[async_trait]
impl Analyzer for LlmAnalyzer {
    fn name(&self) -> &str {
        &self.name
    }

    fn providers(&self) -> Vec<ProviderStatus> {
        let breaker = match self.client.breaker_state() {
            BreakerState::Closed => "closed",
            BreakerState::HalfOpen => "half-open",
            BreakerState::Open => "open",
        };
        let o = self.client.options();
        vec![ProviderStatus { provider: o.name.clone(), model: o.model.clone(), breaker: breaker.into() }]
    }

    /// Only a document with a deadline, on an analyzer allowed to batch, can have a batch running.
    async fn cancelled(&self, ctx: &AnalyzeContext) -> Result<usize, AnalyzeError> {
        if self.options.batch.is_none() || ctx.deadline_ms.is_none() {
            return Ok(0);
        }
        batch::cancel_document(&self.client, &ctx.document).await.map_err(|e| {
            let message = format!("{}: cancelling the document's batch: {e}", self.name);
            if e.is_retryable() {
                AnalyzeError::Retryable(message)
            } else {
                AnalyzeError::Permanent(message)
            }
        })
    }

    async fn analyze(&self, book: Arc<Book>, ctx: &AnalyzeContext) -> Result<Analysis, AnalyzeError> {
        let shape = self.shape();
        let prepared: Vec<(Chunk, Prepared)> = chunks(&book, self.options.max_chunk_chars)
            .into_iter()
            .map(|chunk| {
                let p = chapter_request(&shape, &book, &chunk);
                (chunk, p)
            })
            .collect();
        let concurrency = self.client.options().concurrency.max(1);
        // Each request's cache entry is read once, here: the batch path needs to know the misses, and the answers
        // use the hits.
        let keys: Vec<String> = prepared.iter().map(|(_, p)| p.key.clone()).collect();
        let cached: Vec<Option<Vec<u8>>> = futures::stream::iter(keys)
            .map(|key| async move { self.cached(ctx, &key).await })
            .buffered(concurrency)
            .collect()
            .await;
        let (from_batch, mode) = match self.batch_answers(ctx, &prepared, &cached).await? {
            Some(answers) => (answers, "batch"),
            None => (HashMap::new(), "sync"),
        };
        let answered: Vec<Result<(Chunk, Option<crate::extraction::Extraction>, Spend), AnalyzeError>> =
            futures::stream::iter(prepared.into_iter().zip(cached).map(|((chunk, prepared), cached)| {
                let batched = from_batch.get(&prepared.key);
                async move {
                    let mut spend = Spend::default();
                    let x = self.answer(&prepared, ctx, cached, batched, |c| accept(c, &chunk), &mut spend).await?;
                    Ok((chunk, x, spend))
                }
            }))
            .buffered(concurrency)
            .collect()
            .await;
        let mut report = ModelReport {
            provider: self.client.options().name.clone(),
            model: self.client.options().model.clone(),
            prompt_version: PROMPT_VERSION.to_owned(),
            mode: mode.to_owned(),
            ..Default::default()
        };
        let mut answers = Vec::new();
        let mut batch_tokens = (0u64, 0u64);
        for a in answered {
            let (chunk, x, spend) = a?;
            batch_tokens.0 += spend.batch_prompt_tokens;
            batch_tokens.1 += spend.batch_completion_tokens;
            if let Some(reason) = &spend.fallback {
                report.fallbacks.push(Fallback {
                    chapter: chunk.chapter,
                    first_paragraph: chunk.first_paragraph,
                    last_paragraph: chunk.last_paragraph,
                    reason: reason.clone(),
                });
            }
            add(&mut report, &spend);
            answers.push((chunk, x.map_or(Answer::Offline, Answer::Model)));
        }

        let mut offline: Option<Analysis> = None;
        if answers.iter().any(|(_, a)| matches!(a, Answer::Offline)) {
            offline = Some(Offline.analyze(book.clone(), ctx).await?);
        }
        let mut analysis = merge(&book, &answers, offline.as_ref());

        // The whole-book summary, from the chapters' (a small request, made once the chapters are known).
        let summaries: Vec<(u32, String)> =
            analysis.chapters.iter().filter(|c| !c.summary.is_empty()).map(|c| (c.index, c.summary.clone())).collect();
        let mut book_answer: Option<BookSummary> = None;
        if !summaries.is_empty() {
            let prepared = book_request(&shape, &book, &summaries);
            let mut spend = Spend::default();
            let cached = self.cached(ctx, &prepared.key).await;
            book_answer = self.answer(&prepared, ctx, cached, None, accept_book, &mut spend).await?;
            if let Some(reason) = &spend.fallback {
                report.fallbacks.push(Fallback {
                    chapter: 0,
                    first_paragraph: 0,
                    last_paragraph: 0,
                    reason: reason.clone(),
                });
            }
            add(&mut report, &spend);
        }
        match book_answer {
            Some(b) => {
                let n = b.keywords.len().max(1) as f32;
                analysis.summary = b.summary;
                analysis.keywords = b
                    .keywords
                    .into_iter()
                    .enumerate()
                    .map(|(i, term)| Keyword { term, score: (n - i as f32) / n })
                    .collect();
            }
            None => {
                let o = match offline {
                    Some(o) => o,
                    None => Offline.analyze(book.clone(), ctx).await?,
                };
                analysis.summary = o.summary;
                analysis.keywords = o.keywords;
            }
        }
        report.cost_usd = self.client.options().price.as_ref().map(|p| {
            let cost = |prompt: u64, completion: u64| {
                (prompt as f64 * p.input_per_mtok_usd + completion as f64 * p.output_per_mtok_usd) / 1e6
            };
            let (bp, bc) = (batch_tokens.0, batch_tokens.1);
            cost(report.prompt_tokens - bp, report.completion_tokens - bc) + cost(bp, bc) * p.batch_discount
        });
        if !report.fallbacks.is_empty() {
            tracing::warn!(document = %ctx.document, fallbacks = report.fallbacks.len(), "parts analysed offline");
        }
        analysis.analyzer = self.name.clone();
        analysis.model = Some(report);
        Ok(analysis)
    }
}

fn add(report: &mut ModelReport, spend: &Spend) {
    report.chunks += 1;
    report.cached += spend.cached as u32;
    report.requests += spend.requests;
    report.prompt_tokens += spend.prompt_tokens;
    report.completion_tokens += spend.completion_tokens;
}
