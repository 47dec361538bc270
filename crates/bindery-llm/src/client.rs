//! The client: every endpoint Bindery uses, each call wrapped in the same
//! discipline.
//!
//! A call goes through, in order: the circuit breaker (fail fast while the
//! provider is known to be down), the tokens-per-minute bucket (chat only:
//! wait until the estimate fits), and then up to `1 + max_retries` attempts.
//! Each attempt holds one of `concurrency` slots only while its request is
//! in flight (not while backing off), and is bounded by `request_timeout`.
//! A failed attempt is tried again only if its error is retryable, after a
//! backoff that follows the provider's `Retry-After` when it sends one.
//! Only the call's final outcome reaches the breaker.
//!
//! The API key travels in a header marked sensitive and is never part of a
//! log line, a metric label or an error message.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::breaker::{Breaker, BreakerState};
use crate::error::LlmError;
use crate::limit::{estimate_tokens, TokenBucket};
use crate::provider::ProviderOptions;
use crate::retry;
use crate::wire::{Batch, BatchList, ChatRequest, ChatResponse, FileDeleted, FileObject, CHAT_COMPLETIONS_ENDPOINT};

pub use crate::jsonl::{parse_jsonl, to_jsonl};

/// The largest JSON answer accepted from an API call (file contents have
/// their own, caller-given limit). Real answers are a few kilobytes.
const MAX_JSON_BODY: u64 = 32 * 1024 * 1024;

/// The most of an error body kept in an error message.
const MAX_ERROR_MESSAGE: usize = 1000;

/// A client of one provider. Cheap to clone: clones share the connection
/// pool, the concurrency slots, the token bucket and the breaker.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    options: ProviderOptions,
    /// `base_url` without its trailing slashes.
    base: String,
    http: reqwest::Client,
    breaker: Breaker,
    slots: Semaphore,
    bucket: Option<TokenBucket>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("options", &self.inner.options).finish_non_exhaustive()
    }
}

/// A failed attempt: what went wrong, and how long the provider asked us to
/// wait before the next one.
pub(crate) struct Failure {
    error: LlmError,
    hint: Option<Duration>,
}

impl From<LlmError> for Failure {
    fn from(error: LlmError) -> Self {
        Failure { error, hint: None }
    }
}

/// How an attempt is bounded in time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// The whole attempt within `request_timeout`.
    Whole,
    /// The attempt bounds itself (downloads: the headers, then each chunk).
    Inside,
}

impl Client {
    /// A client for `options`. Fails only on options that cannot work: a
    /// base URL that is not an http(s) URL, or a key that no header can
    /// carry.
    pub fn new(options: ProviderOptions) -> Result<Client, LlmError> {
        let parsed = url::Url::parse(&options.base_url)
            .map_err(|e| LlmError::invalid_options(format!("base URL {:?}: {e}", options.base_url)))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(LlmError::invalid_options(format!("base URL {:?} is not http(s)", options.base_url)));
        }
        let mut headers = HeaderMap::new();
        if let Some(key) = &options.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| LlmError::invalid_options("the API key holds characters that no HTTP header can carry"))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("bindery-llm/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LlmError::invalid_options(format!("HTTP client: {e}")))?;
        let inner = Inner {
            base: options.base_url.trim_end_matches('/').to_owned(),
            http,
            breaker: Breaker::new(&options.name, options.breaker),
            slots: Semaphore::new(options.concurrency.max(1)),
            bucket: options.tokens_per_minute.map(TokenBucket::new),
            options,
        };
        Ok(Client { inner: Arc::new(inner) })
    }

    pub fn options(&self) -> &ProviderOptions {
        &self.inner.options
    }

    /// What the breaker does with the next call.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state()
    }

    /// `POST /chat/completions`. A request without a model is sent with the
    /// options' model.
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = if request.model.is_empty() {
            let with_model = ChatRequest { model: self.inner.options.model.clone(), ..request.clone() };
            json_body(&with_model)?
        } else {
            json_body(request)?
        };
        let url = self.url("chat/completions");
        let url = &url;
        let tokens = self.inner.bucket.as_ref().map(|_| estimate_tokens(request));
        let response: ChatResponse = self
            .call(
                "chat",
                Bound::Whole,
                tokens,
                |response: &ChatResponse| response.usage.map(|usage| usage.total_tokens),
                move || {
                    let body = body.clone();
                    async move {
                        let request = self.inner.http.post(url).header(CONTENT_TYPE, "application/json").body(body);
                        read_json(self.send(request).await?).await
                    }
                },
            )
            .await?;
        if let Some(usage) = response.usage {
            let provider = self.inner.options.name.clone();
            metrics::counter!("bindery_llm_tokens_total", "provider" => provider.clone(), "kind" => "prompt")
                .increment(usage.prompt_tokens);
            metrics::counter!("bindery_llm_tokens_total", "provider" => provider, "kind" => "completion")
                .increment(usage.completion_tokens);
        }
        Ok(response)
    }

    /// `POST /files` with `purpose=batch`: uploads a batch's JSONL input.
    /// The whole upload must finish within `request_timeout`; raise it for
    /// files of many megabytes on a slow link.
    pub async fn upload_batch_file(&self, filename: &str, jsonl: Bytes) -> Result<FileObject, LlmError> {
        let url = self.url("files");
        let url = &url;
        self.call("upload_file", Bound::Whole, None, no_usage, move || {
            let jsonl = jsonl.clone();
            async move {
                let length = jsonl.len() as u64;
                let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(jsonl), length)
                    .file_name(filename.to_owned());
                let form = reqwest::multipart::Form::new().text("purpose", "batch").part("file", part);
                read_json(self.send(self.inner.http.post(url).multipart(form)).await?).await
            }
        })
        .await
    }

    /// `GET /files/{id}`.
    pub async fn file(&self, id: &str) -> Result<FileObject, LlmError> {
        self.get_json("file", &format!("files/{}", segment(id)?)).await
    }

    /// `DELETE /files/{id}`: providers keep files until they are deleted.
    pub async fn delete_file(&self, id: &str) -> Result<FileDeleted, LlmError> {
        let url = self.url(&format!("files/{}", segment(id)?));
        let url = &url;
        self.call("delete_file", Bound::Whole, None, no_usage, move || async move {
            read_json(self.send(self.inner.http.delete(url)).await?).await
        })
        .await
    }

    /// `GET /files/{id}/content`, refusing (with [`LlmError::TooLarge`]) a
    /// body over `max_bytes`, whether its `Content-Length` says so or the
    /// bytes do while they stream. The request timeout bounds the wait for
    /// the headers and for each chunk, not the whole download, so a large
    /// file that keeps arriving is not cut off.
    pub async fn file_content(&self, id: &str, max_bytes: u64) -> Result<Bytes, LlmError> {
        let url = self.url(&format!("files/{}/content", segment(id)?));
        let url = &url;
        let timeout = self.inner.options.request_timeout;
        self.call("file_content", Bound::Inside, None, no_usage, move || async move {
            let response = tokio::time::timeout(timeout, self.send(self.inner.http.get(url)))
                .await
                .map_err(|_| timed_out(timeout))??;
            read_body(response, max_bytes, Some(timeout)).await
        })
        .await
    }

    /// `POST /batches` for chat completions with a 24-hour window. A create
    /// whose answer was lost (a timeout) may still have made a batch: a
    /// caller that must not run one twice tags it in `metadata` and looks
    /// for the tag with [`Client::list_batches`] before creating again.
    pub async fn create_batch(
        &self,
        input_file_id: &str,
        metadata: HashMap<String, String>,
    ) -> Result<Batch, LlmError> {
        let mut body = serde_json::json!({
            "input_file_id": input_file_id,
            "endpoint": CHAT_COMPLETIONS_ENDPOINT,
            "completion_window": "24h",
        });
        if !metadata.is_empty() {
            body["metadata"] = serde_json::json!(metadata);
        }
        let body = json_body(&body)?;
        let url = self.url("batches");
        let url = &url;
        self.call("create_batch", Bound::Whole, None, no_usage, move || {
            let body = body.clone();
            async move {
                let request = self.inner.http.post(url).header(CONTENT_TYPE, "application/json").body(body);
                read_json(self.send(request).await?).await
            }
        })
        .await
    }

    /// `GET /batches/{id}`.
    pub async fn batch(&self, id: &str) -> Result<Batch, LlmError> {
        self.get_json("batch", &format!("batches/{}", segment(id)?)).await
    }

    /// One page of `GET /batches`, newest first, starting after the batch
    /// `after` (the previous page's last id).
    pub async fn list_batches(&self, after: Option<&str>, limit: u32) -> Result<Vec<Batch>, LlmError> {
        Ok(self.list_batches_page(after, limit).await?.data)
    }

    /// Like [`Client::list_batches`], with the page's `has_more`.
    pub async fn list_batches_page(&self, after: Option<&str>, limit: u32) -> Result<BatchList, LlmError> {
        let mut path = format!("batches?limit={limit}");
        if let Some(after) = after {
            path.push_str("&after=");
            path.push_str(&segment(after)?);
        }
        self.get_json("list_batches", &path).await
    }

    /// `POST /batches/{id}/cancel`. The answer is usually `cancelling`; the
    /// batch becomes `cancelled` later, with what had been done by then.
    pub async fn cancel_batch(&self, id: &str) -> Result<Batch, LlmError> {
        let url = self.url(&format!("batches/{}/cancel", segment(id)?));
        let url = &url;
        self.call("cancel_batch", Bound::Whole, None, no_usage, move || async move {
            read_json(self.send(self.inner.http.post(url)).await?).await
        })
        .await
    }

    async fn get_json<T: DeserializeOwned>(&self, op: &'static str, path: &str) -> Result<T, LlmError> {
        let url = self.url(path);
        let url = &url;
        self.call(op, Bound::Whole, None, no_usage, move || async move {
            read_json(self.send(self.inner.http.get(url)).await?).await
        })
        .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.inner.base)
    }

    /// The discipline every call follows (see the module's documentation).
    /// `tokens` is the estimate charged to the bucket, and `used` reads the
    /// real usage from a success.
    async fn call<T, A, F>(
        &self,
        op: &'static str,
        bound: Bound,
        tokens: Option<u64>,
        used: fn(&T) -> Option<u64>,
        mut attempt: A,
    ) -> Result<T, LlmError>
    where
        A: FnMut() -> F,
        F: Future<Output = Result<T, Failure>>,
    {
        let options = &self.inner.options;
        let admission = match self.inner.breaker.admit() {
            Ok(admission) => admission,
            Err(retry_in) => {
                count_outcome(&options.name, "breaker_open");
                return Err(LlmError::BreakerOpen { provider: options.name.clone(), retry_in });
            }
        };
        let charged = match (&self.inner.bucket, tokens) {
            (Some(bucket), Some(tokens)) => Some((bucket, bucket.acquire(tokens).await)),
            _ => None,
        };
        let mut failures = 0;
        let result = loop {
            let Failure { error, hint } = match self.attempt(op, bound, &mut attempt).await {
                Ok(value) => break Ok(value),
                Err(failure) => failure,
            };
            if !error.is_retryable() || failures >= options.max_retries {
                break Err(error);
            }
            let wait = retry::delay(failures, hint, options.backoff_base, options.backoff_max);
            failures += 1;
            tracing::warn!(provider = %options.name, op, attempt = failures, error = %error, ?wait, "retrying");
            metrics::counter!("bindery_llm_retries_total", "provider" => options.name.clone(), "op" => op).increment(1);
            tokio::time::sleep(wait).await;
        };
        if let Some((bucket, charged)) = charged {
            let real = match &result {
                Ok(value) => used(value).unwrap_or(charged),
                Err(_) => 0,
            };
            bucket.settle(charged, real);
        }
        admission.record(match &result {
            Ok(_) => true,
            Err(error) => !error.is_retryable(),
        });
        result
    }

    /// One HTTP attempt: a concurrency slot, the time limit, and the metrics.
    async fn attempt<T, A, F>(&self, op: &'static str, bound: Bound, attempt: &mut A) -> Result<T, Failure>
    where
        A: FnMut() -> F,
        F: Future<Output = Result<T, Failure>>,
    {
        let options = &self.inner.options;
        let Ok(_slot) = self.inner.slots.acquire().await else {
            return Err(LlmError::Transport("the client's request slots are closed".into()).into());
        };
        let started = Instant::now();
        let result = match bound {
            Bound::Whole => tokio::time::timeout(options.request_timeout, attempt())
                .await
                .unwrap_or_else(|_| Err(timed_out(options.request_timeout))),
            Bound::Inside => attempt().await,
        };
        metrics::histogram!("bindery_llm_request_duration_seconds", "provider" => options.name.clone(), "op" => op)
            .record(started.elapsed().as_secs_f64());
        count_outcome(&options.name, result.as_ref().map_or_else(|failure| failure.error.kind(), |_| "ok"));
        result
    }

    /// Sends a request; a non-2xx answer becomes the matching error.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, Failure> {
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let hint = retry::hint_from_headers(response.headers(), status.as_u16() == 429, SystemTime::now());
        // The body only explains the status; if it cannot be read, the
        // status alone still decides what happens next.
        let body = read_body(response, 1024 * 1024, None).await.unwrap_or_default();
        let detail = ErrorDetail::from_body(&body, status.canonical_reason().unwrap_or("error"));
        Err(Failure { error: status_error(status.as_u16(), detail, hint), hint })
    }
}

fn no_usage<T>(_: &T) -> Option<u64> {
    None
}

fn count_outcome(provider: &str, outcome: &'static str) {
    metrics::counter!("bindery_llm_requests_total", "provider" => provider.to_owned(), "outcome" => outcome)
        .increment(1);
}

fn json_body<T: serde::Serialize>(value: &T) -> Result<Bytes, LlmError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| LlmError::invalid_options(format!("the request cannot be written as JSON: {e}")))
}

fn timed_out(limit: Duration) -> Failure {
    LlmError::Timeout(format!("no answer within {limit:?}")).into()
}

/// A request that got no HTTP answer.
fn transport_error(error: reqwest::Error) -> Failure {
    let timeout = error.is_timeout();
    let detail = describe(&error.without_url());
    let error = if timeout { LlmError::Timeout(detail) } else { LlmError::Transport(detail) };
    error.into()
}

/// An error with its chain of causes, which is where reqwest keeps the
/// useful part ("connection refused").
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads a successful answer as `T`; a body that is not `T` is malformed.
async fn read_json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, Failure> {
    let body = read_body(response, MAX_JSON_BODY, None).await?;
    serde_json::from_slice(&body).map_err(|e| {
        let start = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        LlmError::Malformed(format!("{e} in a body starting {start:?}")).into()
    })
}

/// Reads a body of at most `limit` bytes, each chunk within `idle` if given.
async fn read_body(mut response: reqwest::Response, limit: u64, idle: Option<Duration>) -> Result<Bytes, Failure> {
    if let Some(length) = response.content_length() {
        if length > limit {
            return Err(LlmError::TooLarge(length).into());
        }
    }
    let mut body = BytesMut::new();
    loop {
        let chunk = match idle {
            Some(idle) => tokio::time::timeout(idle, response.chunk()).await.map_err(|_| timed_out(idle))?,
            None => response.chunk().await,
        };
        let Some(chunk) = chunk.map_err(transport_error)? else {
            return Ok(body.freeze());
        };
        let total = (body.len() + chunk.len()) as u64;
        if total > limit {
            return Err(LlmError::TooLarge(total).into());
        }
        body.extend_from_slice(&chunk);
    }
}

/// A path segment with everything but unreserved characters escaped, so
/// that an id can never change the path it is put in.
/// Empty ids and dot segments (`.`, `..`), which URLs resolve away even
/// when escaped, are refused.
fn segment(id: &str) -> Result<String, LlmError> {
    if id.is_empty() || id.bytes().all(|b| b == b'.') {
        return Err(LlmError::Refused {
            status: 0,
            code: Some("invalid_id".into()),
            message: format!("{id:?} is not an id"),
        });
    }
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(out)
}

/// The message and code of an error answer, read from any of the shapes
/// compatible servers use: OpenAI's `{"error":{"message","type","code"}}`,
/// Gemini's list of those, Ollama's `{"error":"…"}`, vLLM's
/// `{"message","type","code"}`, or plain text.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ErrorDetail {
    pub(crate) message: String,
    pub(crate) code: Option<String>,
}

impl ErrorDetail {
    fn from_body(body: &[u8], fallback: &str) -> ErrorDetail {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
            let detail = ErrorDetail::from_value(&value);
            if !detail.message.is_empty() || detail.code.is_some() {
                return detail;
            }
        }
        let text = String::from_utf8_lossy(body).trim().to_owned();
        ErrorDetail { message: if text.is_empty() { fallback.to_owned() } else { truncate(text) }, code: None }
    }

    pub(crate) fn from_value(value: &serde_json::Value) -> ErrorDetail {
        use serde_json::Value;
        let value = match value {
            Value::Array(items) => items.first().unwrap_or(&Value::Null),
            other => other,
        };
        let error = match value.get("error") {
            Some(Value::String(message)) => return ErrorDetail { message: truncate(message.clone()), code: None },
            Some(error @ Value::Object(_)) => error,
            _ => value,
        };
        let text = |key: &str| match error.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        // OpenAI's `code` is the precise reason (`invalid_api_key`); when it
        // is null, its `type` (`invalid_request_error`) is the next best.
        let code = text("code").filter(|c| c.parse::<u16>().is_err()).or_else(|| text("type"));
        ErrorDetail { message: truncate(text("message").unwrap_or_default()), code }
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_ERROR_MESSAGE {
        let mut end = MAX_ERROR_MESSAGE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// The error for an HTTP status, in the protocol's terms.
pub(crate) fn status_error(status: u16, detail: ErrorDetail, retry_after: Option<Duration>) -> LlmError {
    let ErrorDetail { message, code } = detail;
    match status {
        408 => LlmError::Timeout(format!("HTTP 408: {message}")),
        // An exhausted quota is a 429 too, but no amount of waiting helps.
        429 if code.as_deref() == Some("insufficient_quota") => LlmError::Refused { status, code, message },
        429 => LlmError::RateLimited { retry_after, message },
        500..=599 => LlmError::Server { status, message },
        _ => LlmError::Refused { status, code, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_shapes_of_compatible_servers() {
        let openai = json!({"error": {"message": "Incorrect API key", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}});
        assert_eq!(
            ErrorDetail::from_value(&openai),
            ErrorDetail { message: "Incorrect API key".into(), code: Some("invalid_api_key".into()) }
        );
        let gemini = json!([{"error": {"code": 400, "message": "bad schema", "status": "INVALID_ARGUMENT"}}]);
        assert_eq!(ErrorDetail::from_value(&gemini).message, "bad schema");
        let ollama = json!({"error": "model \"x\" not found"});
        assert_eq!(ErrorDetail::from_value(&ollama).message, "model \"x\" not found");
        let vllm = json!({"object": "error", "message": "too long", "type": "BadRequestError", "code": 400});
        assert_eq!(
            ErrorDetail::from_value(&vllm),
            ErrorDetail { message: "too long".into(), code: Some("BadRequestError".into()) }
        );
        assert_eq!(ErrorDetail::from_body(b"<html>bad gateway</html>", "x").message, "<html>bad gateway</html>");
        assert_eq!(ErrorDetail::from_body(b"", "Bad Gateway").message, "Bad Gateway");
    }

    #[test]
    fn statuses_map_to_kinds() {
        let detail = |code: Option<&str>| ErrorDetail { message: "m".into(), code: code.map(str::to_owned) };
        assert!(matches!(status_error(408, detail(None), None), LlmError::Timeout(_)));
        assert!(matches!(status_error(429, detail(None), None), LlmError::RateLimited { .. }));
        assert!(matches!(
            status_error(429, detail(Some("insufficient_quota")), None),
            LlmError::Refused { status: 429, .. }
        ));
        assert!(matches!(status_error(503, detail(None), None), LlmError::Server { status: 503, .. }));
        for status in [400, 401, 403, 404, 409, 413, 422] {
            assert!(!status_error(status, detail(None), None).is_retryable(), "{status}");
        }
    }

    #[test]
    fn ids_cannot_escape_their_segment() {
        assert_eq!(segment("file-abc_1.x").unwrap(), "file-abc_1.x");
        assert_eq!(segment("../x?y").unwrap(), "..%2Fx%3Fy");
        assert!(segment("..").is_err());
        assert!(segment("").is_err());
    }

    /// Callers spawn calls and hold clients in shared state: the client and
    /// every call's future must be `Send` (and the client `Sync`). This
    /// fails to compile otherwise.
    #[allow(dead_code)]
    fn futures_are_send(client: &Client, request: &ChatRequest) {
        fn send<T: Send>(_: T) {}
        fn shared<T: Send + Sync>() {}
        shared::<Client>();
        send(client.chat(request));
        send(client.upload_batch_file("f", Bytes::new()));
        send(client.create_batch("f", HashMap::new()));
        send(client.batch("b"));
        send(client.list_batches(None, 1));
        send(client.cancel_batch("b"));
        send(client.file_content("f", 1));
        send(client.delete_file("f"));
    }

    #[test]
    fn options_that_cannot_work_are_refused() {
        let bad = ProviderOptions::new("x", "not a url", "m");
        assert!(matches!(Client::new(bad), Err(LlmError::Refused { status: 0, .. })));
        let ftp = ProviderOptions::new("x", "ftp://example.invalid/v1", "m");
        assert!(Client::new(ftp).is_err());
        let key = ProviderOptions::new("x", "http://127.0.0.1:1/v1", "m").with_api_key("a\nb");
        assert!(Client::new(key).is_err());
    }
}
