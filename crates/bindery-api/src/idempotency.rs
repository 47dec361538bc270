//! `Idempotency-Key` on the API's POST requests, after the IETF httpapi draft "The Idempotency-Key HTTP Header
//! Field".
//!
//! A client that may retry a POST (a timeout, a dropped connection) sends a unique key with it. The first request
//! with a key runs and its response is stored (status, content type, body); a repeat with the same key and the same
//! request gets that response again, marked `idempotent-replayed: true`, and nothing runs twice. The key is scoped to
//! the authenticated principal (the API key, or else the user), so two clients never share one. The request's
//! fingerprint is its method, path and query and the SHA-256 of its body:
//! - the same key with a different request is `422 unprocessable`;
//! - a repeat while the first is still running is `409 conflict` (retry later);
//! - `5xx` answers are not stored, so those requests can be retried; neither are answers larger than 1 MiB or
//!   streamed without a known length, nor requests that never finished (a record left in flight for five minutes is
//!   taken over).
//!
//! Answers that carry a secret (a new API key, a webhook's signing secret, tokens) are never stored: the route marks
//! them ([`secret_bearing`]), and the record keeps only their status, so a repeat is refused with
//! `409 secret_not_replayable` instead of showing the secret again from the database (where everything else about
//! secrets is hashed).
//!
//! Records expire after 24 hours and are pruned at most every ten minutes. Uploads are left alone: they are
//! idempotent by content already, and are too large to buffer. A request without the header, or not authenticated,
//! passes through untouched.
//!
//! To know the principal, this layer authenticates the request itself; it then applies the rate limit (once) and
//! leaves the [`Caller`] in the request's extensions, where the handler's extractor finds it instead of
//! authenticating (and counting) again.

use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::AppState;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bindery_core::time::{now_ms, Millis};
use bindery_store::{IdempotencyClaim, StoredResponse};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicI64, Ordering};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The response header on a replayed response.
pub const REPLAYED: &str = "idempotent-replayed";
/// How long a key is remembered.
pub const TTL_MS: Millis = 24 * 3600 * 1000;
/// How long a request may hold its key before a repeat may take it over (its process died, or it hung).
const STALE_MS: Millis = 5 * 60 * 1000;
/// Largest request body buffered for the fingerprint (axum's default body limit).
const MAX_REQUEST_BYTES: usize = 2 << 20;
/// Largest response body stored for replay.
const MAX_STORED_BYTES: u64 = 1 << 20;
const MAX_KEY_LEN: usize = 255;
const PRUNE_EVERY_MS: Millis = 10 * 60 * 1000;

static LAST_PRUNE: AtomicI64 = AtomicI64::new(0);

/// The content type recorded in place of an answer that carried a secret.
const SECRET_WITHHELD: &str = "application/vnd.bindery.secret-withheld";

/// Marks a route's answers as carrying a secret, which the replay record must not keep: the route table puts it on
/// those routes with `axum::middleware::map_response`.
pub async fn secret_bearing(mut response: Response) -> Response {
    response.extensions_mut().insert(SecretBearing);
    response
}

/// The mark [`secret_bearing`] leaves on a response.
#[derive(Clone, Copy, Debug)]
pub struct SecretBearing;

/// The middleware (`axum::middleware::from_fn_with_state`).
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match handle(state, request, next).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    let applies = request.method() == Method::POST
        && request.headers().contains_key(HEADER)
        && request.uri().path().starts_with("/api/v1/")
        && !is_upload(request.uri().path());
    if !applies {
        return Ok(next.run(request).await);
    }
    let key = parse_key(&request.headers()[HEADER])?;
    let (mut parts, body) = request.into_parts();
    let Ok(caller) = auth::authenticate(&parts, &state).await else {
        // No principal, no scope for the key: the handler answers (and refuses what needs a caller).
        return Ok(next.run(Request::from_parts(parts, body)).await);
    };
    state.limiter.check(caller.limit_key())?;
    parts.extensions.insert::<Caller>(caller.clone());
    let body = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| ApiError::TooLarge(MAX_REQUEST_BYTES as u64))?;
    let fingerprint = fingerprint(&parts.method, &parts.uri, &body);
    let scope = caller.idempotency_scope();
    let now = now_ms();
    prune(&state, now);
    let claim =
        state.store().claim_idempotency_key(&scope, &key, &fingerprint, now, now - TTL_MS, now - STALE_MS).await?;
    match claim {
        IdempotencyClaim::Completed { fingerprint: used, .. } | IdempotencyClaim::InFlight { fingerprint: used }
            if used != fingerprint =>
        {
            Err(ApiError::Unprocessable("this Idempotency-Key was already used for a different request".into()))
        }
        IdempotencyClaim::InFlight { .. } => Err(ApiError::Conflict(
            "a request with this Idempotency-Key is still being processed; retry it later".into(),
        )),
        IdempotencyClaim::Completed { response, .. } => replay(response),
        IdempotencyClaim::Claimed => {
            let held = Held { state, scope, key, armed: true };
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            Ok(held.settle(response).await)
        }
    }
}

/// `POST /api/v1/projects/{project}/documents`.
fn is_upload(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(parts.as_slice(), ["", "api", "v1", "projects", _, "documents"])
}

/// The key: a structured-field string (`"…"`, as the draft writes it) or the bare token, of visible ASCII.
fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    let bad = || ApiError::BadRequest(format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"));
    let raw = value.to_str().map_err(|_| bad())?.trim();
    let key = raw.strip_prefix('"').and_then(|k| k.strip_suffix('"')).unwrap_or(raw);
    let visible = key.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if key.is_empty() || key.len() > MAX_KEY_LEN || !visible {
        return Err(bad());
    }
    Ok(key.to_owned())
}

/// A request's fingerprint: SHA-256 over its method, path and query, and the SHA-256 of its body.
pub fn fingerprint(method: &Method, uri: &Uri, body: &Bytes) -> String {
    let target = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut h = Sha256::new();
    h.update(format!("{method} {target}\n{}", hex::encode(Sha256::digest(body))));
    hex::encode(h.finalize())
}

fn replay(stored: StoredResponse) -> Result<Response, ApiError> {
    if stored.content_type.as_deref() == Some(SECRET_WITHHELD) {
        return Err(ApiError::SecretNotReplayable(stored.status));
    }
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    if let Some(ct) = stored.content_type.and_then(|ct| HeaderValue::from_str(&ct).ok()) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    Ok(response)
}

/// Deletes expired records now and then, in the background.
fn prune(state: &AppState, now: Millis) {
    let last = LAST_PRUNE.load(Ordering::Relaxed);
    if now - last < PRUNE_EVERY_MS
        || LAST_PRUNE.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
    {
        return;
    }
    let store = state.store().clone();
    tokio::spawn(async move {
        match store.prune_idempotency_keys(now - TTL_MS).await {
            Ok(n) if n > 0 => tracing::debug!(pruned = n, "expired idempotency keys pruned"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
        }
    });
}

/// A claimed key. Dropped without [`Held::settle`] (the client went away and the request future with it), it
/// releases the key in the background, so a retry is not refused for five minutes.
struct Held {
    state: AppState,
    scope: String,
    key: String,
    armed: bool,
}

impl Held {
    /// Stores the response for replay, or releases the key when the response must not be replayed. The handler's
    /// response goes back to the client whatever happens to the record (a record the store could not complete is
    /// released, so that a retry runs again rather than waiting).
    async fn settle(mut self, response: Response) -> Response {
        self.armed = false;
        let storable = !response.status().is_server_error()
            && response.body().size_hint().upper().is_some_and(|n| n <= MAX_STORED_BYTES);
        if !storable {
            self.release().await;
            return response;
        }
        if response.extensions().get::<SecretBearing>().is_some() {
            // Only the fact that it succeeded is kept; the secret went to the client and nowhere else.
            let withheld = StoredResponse {
                status: response.status().as_u16(),
                content_type: Some(SECRET_WITHHELD.into()),
                body: vec![],
            };
            if let Err(e) = self.state.store().complete_idempotency_key(&self.scope, &self.key, &withheld).await {
                tracing::warn!(error = %e, "recording an idempotent request failed");
                self.release().await;
            }
            return response;
        }
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_STORED_BYTES as usize).await {
            Ok(b) => b,
            Err(e) => {
                self.release().await;
                return ApiError::Internal(format!("buffering the response: {e}")).into_response();
            }
        };
        let stored = StoredResponse {
            status: parts.status.as_u16(),
            content_type: parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned),
            body: bytes.to_vec(),
        };
        if let Err(e) = self.state.store().complete_idempotency_key(&self.scope, &self.key, &stored).await {
            tracing::warn!(error = %e, "storing an idempotent response failed");
            self.release().await;
        }
        Response::from_parts(parts, Body::from(bytes))
    }

    async fn release(&self) {
        if let Err(e) = self.state.store().release_idempotency_key(&self.scope, &self.key).await {
            tracing::warn!(error = %e, "releasing an idempotency key failed");
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (store, scope, key) = (self.state.store().clone(), self.scope.clone(), self.key.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = store.release_idempotency_key(&scope, &key).await {
                    tracing::warn!(error = %e, "releasing an abandoned idempotency key failed");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_uploads() {
        let key = |s: &'static str| parse_key(&HeaderValue::from_static(s));
        assert_eq!(key("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"").unwrap(), "8e03978e-40d5-43e8-bc93-6894a57f9324");
        assert_eq!(key("abc").unwrap(), "abc");
        assert!(key("\"\"").is_err() && key("a b").is_err() && key("\"a\\b\"").is_err());
        assert!(parse_key(&HeaderValue::from_str(&"k".repeat(256)).unwrap()).is_err());
        assert!(is_upload("/api/v1/projects/p1/documents"));
        assert!(!is_upload("/api/v1/projects/p1/api-keys") && !is_upload("/api/v1/documents/d/reprocess"));
    }

    #[test]
    fn fingerprints_cover_method_target_and_body() {
        let uri: Uri = "/api/v1/projects".parse().unwrap();
        let a = fingerprint(&Method::POST, &uri, &Bytes::from_static(b"{\"name\":\"a\"}"));
        assert_eq!(a, fingerprint(&Method::POST, &uri, &Bytes::from_static(b"{\"name\":\"a\"}")));
        assert_ne!(a, fingerprint(&Method::POST, &uri, &Bytes::from_static(b"{\"name\":\"b\"}")));
        assert_ne!(a, fingerprint(&Method::POST, &"/api/v1/projects?x=1".parse().unwrap(), &Bytes::new()));
    }
}
