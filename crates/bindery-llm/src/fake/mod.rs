//! A fake OpenAI: an in-memory server on a loopback port that speaks the
//! real wire protocol under `/v1` (chat completions, files, batches), so
//! that tests exercise the client, and the code built on it, exactly as
//! they would run against a provider, with faults on demand and nothing
//! sent to the internet.
//!
//! What the model says comes from a [`Responder`], used both by chat
//! completions and by the lines of batches. Faults pushed with
//! [`FakeOpenAi::push_fault`] apply to the next chat completion calls, in
//! order; [`FakeOpenAi::set_always`] makes an outage. Batches are validated
//! at once (`validating` → `in_progress`, or `failed` with `errors`) and
//! complete when the test says so ([`FakeOpenAi::complete_batches`]) or
//! after [`FakeOpenAi::set_batch_delay`]; their output and error files are
//! written line for line as OpenAI writes them.
//!
//! Like the real servers, the fake counts usage (a quarter of the
//! characters) and honours a completion limit: an answer longer than
//! `max_tokens` (or `max_completion_tokens`) × 4 characters is cut there,
//! with `finish_reason: "length"`.

mod batches;
mod chat;
mod files;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;

use crate::wire::{Batch, ChatRequest};
use state::{Shared, StateData};

/// What the model answers to a request.
pub type Responder = Arc<dyn Fn(&ChatRequest) -> FakeReply + Send + Sync>;

/// One answer of the [`Responder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeReply {
    /// The assistant message's content.
    Content(String),
    /// An error answer with this status and message, in OpenAI's shape.
    Status(u16, String),
}

/// A failure injected into chat completion calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: retry_after_secs`.
    RateLimited { retry_after_secs: u64 },
    /// This status, with an OpenAI-shaped error body.
    Status(u16),
    /// HTTP 200 whose body is not JSON (a proxy's error page).
    MalformedBody,
    /// HTTP 200, a valid completion, whose content is this string instead of
    /// the responder's (JSON that is broken or lacks fields, for the
    /// caller's repair path).
    InvalidContent(String),
    /// Wait this long, then answer normally (if the client still listens).
    Hang(Duration),
}

/// The running fake. Clones share it; the server stops when the last clone
/// is dropped.
#[derive(Clone)]
pub struct FakeOpenAi {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeOpenAi {
    /// Starts a fake on `127.0.0.1:0` that accepts any (or no) API key.
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound: this is a test fixture.
    pub async fn start(responder: Responder) -> FakeOpenAi {
        let shared = state::new_shared(responder);
        let router = Router::new()
            .route("/v1/chat/completions", post(chat::completions))
            .route("/v1/files", post(files::upload))
            .route("/v1/files/{id}", get(files::get).delete(files::delete))
            .route("/v1/files/{id}/content", get(files::content))
            .route("/v1/batches", post(batches::create).get(batches::list))
            .route("/v1/batches/{id}", get(batches::get))
            .route("/v1/batches/{id}/cancel", post(batches::cancel))
            .fallback(not_found)
            .layer(middleware::from_fn_with_state(shared.clone(), log_and_authenticate))
            // OpenAI accepts batch input files of up to 200 MB.
            .layer(DefaultBodyLimit::max(200 * 1024 * 1024))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port for the fake");
        let addr = listener.local_addr().expect("the fake's address");
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "the fake OpenAI server stopped");
            }
        });
        FakeOpenAi { inner: Arc::new(Inner { addr, shared, server }) }
    }

    /// Starts a fake that answers 401 unless `Authorization: Bearer <key>`.
    pub async fn start_with_key(responder: Responder, key: &str) -> FakeOpenAi {
        let fake = FakeOpenAi::start(responder).await;
        fake.set_api_key(Some(key.to_owned()));
        fake
    }

    /// A [`Responder`] from a closure, whose argument type is then inferred
    /// (`Arc::new(|request| …)` alone would need it written out).
    pub fn responder(f: impl Fn(&ChatRequest) -> FakeReply + Send + Sync + 'static) -> Responder {
        Arc::new(f)
    }

    /// A responder that answers every request with `content`.
    pub fn constant(content: impl Into<String>) -> Responder {
        let content = content.into();
        Arc::new(move |_: &ChatRequest| FakeReply::Content(content.clone()))
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.inner.addr)
    }

    /// Requires this key from now on (`None`: any or none).
    pub fn set_api_key(&self, key: Option<String>) {
        self.with(|s| s.api_key = key);
    }

    /// Queues a fault for the next chat completion call not yet faulted.
    pub fn push_fault(&self, fault: Fault) {
        self.with(|s| s.faults.push_back(fault));
    }

    /// A fault for every chat completion call once the queue is empty
    /// (`None` ends the outage).
    pub fn set_always(&self, fault: Option<Fault>) {
        self.with(|s| s.always = fault);
    }

    /// How many requests reached `POST /v1/chat/completions` past the key
    /// check (faulted ones included).
    pub fn chat_calls(&self) -> usize {
        self.with(|s| s.chat_calls)
    }

    /// The bodies of those requests as received (JSON, or a string when the
    /// body was not JSON).
    pub fn chat_requests(&self) -> Vec<serde_json::Value> {
        self.with(|s| s.chat_bodies.clone())
    }

    /// The most chat completion requests that were in the server at once.
    pub fn max_in_flight(&self) -> usize {
        self.with(|s| s.max_in_flight)
    }

    /// Every request received, as `METHOD /path` (without the query).
    pub fn requests(&self) -> Vec<String> {
        self.with(|s| s.requests.clone())
    }

    /// How many batches were created.
    pub fn batches_created(&self) -> usize {
        self.with(|s| s.batches.len())
    }

    /// Every batch, in the order of creation.
    pub fn batches(&self) -> Vec<Batch> {
        self.with(|s| s.batches.clone())
    }

    /// Answers every files and batches request with `status` from now on (`None`: serve them again), leaving chat
    /// completions alone: an outage of the batch path only.
    pub fn set_batch_endpoints_status(&self, status: Option<u16>) {
        self.with(|s| s.batch_endpoints_status = status);
    }

    /// Holds every batch creation request from now on, before its batch exists, until
    /// [`FakeOpenAi::release_batch_creation`]; a held creation still happens if its client hangs up, as at a
    /// provider that received the request. For races between a creation and a look at the list.
    pub fn hold_batch_creation(&self) {
        self.with(|s| s.creation_gate = Some(std::sync::Arc::new(tokio::sync::Semaphore::new(0))));
    }

    /// Lets held batch creations go on, and later ones through at once.
    pub fn release_batch_creation(&self) {
        if let Some(gate) = self.with(|s| s.creation_gate.take()) {
            gate.close();
        }
    }

    /// A batch as the server holds it.
    pub fn batch(&self, id: &str) -> Option<Batch> {
        self.with(|s| s.batches.iter().find(|b| b.id == id).cloned())
    }

    /// A stored file's content.
    pub fn file_content(&self, id: &str) -> Option<Bytes> {
        self.with(|s| s.files.get(id).map(|f| f.content.clone()))
    }

    /// Makes the batch line `custom_id` fail with `status` (it goes to the
    /// error file), whenever a batch holding it is completed.
    pub fn fail_line(&self, custom_id: impl Into<String>, status: u16) {
        self.with(|s| {
            s.failed_lines.insert(custom_id.into(), status);
        });
    }

    /// Completes each batch created from now on by itself, this long after
    /// its creation (`None`: only [`FakeOpenAi::complete_batches`] does).
    pub fn set_batch_delay(&self, delay: Option<Duration>) {
        self.with(|s| s.batch_delay = delay);
    }

    /// How many leading lines of a batch count as done when it expires
    /// (default 0: none).
    pub fn set_lines_done_before_expiry(&self, lines: usize) {
        self.with(|s| s.lines_done_before_expiry = lines);
    }

    /// Completes every `in_progress` batch: each line goes through the
    /// responder, and the output and error files are written.
    pub async fn complete_batches(&self) {
        batches::complete(&self.inner.shared, None);
    }

    /// Expires every `in_progress` batch, as when its 24-hour window ends:
    /// the lines done so far go to the output file, the others to the error
    /// file with the code `batch_expired`.
    pub async fn expire_batches(&self) {
        batches::expire(&self.inner.shared);
    }

    fn with<T>(&self, f: impl FnOnce(&mut StateData) -> T) -> T {
        f(&mut state::lock(&self.inner.shared))
    }
}

/// Logs each request, then checks its key when one is required.
async fn log_and_authenticate(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let (required, batch_outage) = {
        let mut s = state::lock(&shared);
        s.requests.push(format!("{} {}", request.method(), request.uri().path()));
        (s.api_key.clone(), s.batch_endpoints_status)
    };
    let path = request.uri().path();
    if let Some(status) = batch_outage.filter(|_| path.starts_with("/v1/files") || path.starts_with("/v1/batches")) {
        return state::error(status, "The batch service is unavailable.", None, None);
    }
    if let Some(key) = required {
        let given = request.headers().get("authorization").and_then(|v| v.to_str().ok());
        match given {
            None => {
                return state::error(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                    None,
                    None,
                )
            }
            Some(value) if value != format!("Bearer {key}") => {
                return state::error(401, "Incorrect API key provided.", Some("invalid_api_key"), None)
            }
            Some(_) => {}
        }
    }
    next.run(request).await
}

async fn not_found(request: Request) -> Response {
    let message = format!("Invalid URL ({} {})", request.method(), request.uri().path());
    state::error(404, &message, None, None)
}
