//! The webhook sink: a signed HTTP POST per event.
//!
//! Webhooks are the lowest common denominator for integrations, so this sink
//! follows the Standard Webhooks spec to the letter: the body is the
//! CloudEvent JSON, `webhook-id` is the event id (stable across redeliveries,
//! so receivers can deduplicate), and `webhook-signature` proves origin. The
//! status code decides whether the engine retries: throttling, timeouts and
//! server faults are worth retrying, other client errors are not.
//!
//! Deliveries only reach public addresses, or private ones the operator
//! allowlisted ([`WebhookOptions::allow`]); see [`crate::ssrf`] for how.

use crate::error::{ConfigError, DeliveryError};
use crate::signature::{secret_key, sign_with_key};
use crate::sink::Sink;
use crate::ssrf::{check_url, find_ssrf_error, safe_builder, Allowlist};
use async_trait::async_trait;
use bindery_core::event::CloudEvent;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

/// How long one request may take, including reading the response headers.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a webhook sink connects.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Private, loopback or link-local addresses deliveries may reach anyway.
    /// Empty by default: only public addresses.
    pub allow: Allowlist,
    /// How long one request may take (10 s by default).
    pub timeout: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self { allow: Allowlist::default(), timeout: DEFAULT_TIMEOUT }
    }
}

/// Posts events to one HTTP endpoint.
pub struct WebhookSink {
    url: Url,
    key: Vec<u8>,
    client: reqwest::Client,
    allow: Allowlist,
    timeout: Duration,
    name: String,
}

impl std::fmt::Debug for WebhookSink {
    // The key is deliberately left out so that it never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink").field("name", &self.name).field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// Builds a sink for an `http` or `https` URL, signing with `secret`
    /// (`whsec_<base64>` or raw text), with the default options: public
    /// addresses only, 10 s per request.
    pub fn new(url: Url, secret: &str) -> Result<Self, ConfigError> {
        Self::with_options(url, secret, WebhookOptions::default())
    }

    /// Builds a sink with explicit options.
    ///
    /// The URL is checked here, so that a literal private address (or a
    /// user name in the URL) stops the engine at start-up instead of failing
    /// every delivery; a host name can only be judged when it is resolved,
    /// at delivery.
    ///
    /// Redirects are not followed: the Standard Webhooks spec treats them as
    /// failures, and following one would send signed events to a place the
    /// operator did not configure, possibly an internal one.
    pub fn with_options(url: Url, secret: &str, options: WebhookOptions) -> Result<Self, ConfigError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::UnsupportedScheme(url.scheme().to_owned()));
        }
        check_url(&url, &options.allow)?;
        let key = secret_key(secret)?;
        let client = safe_builder(options.allow.clone(), options.timeout)
            .user_agent(concat!("bindery-outbox/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        let name = format!("webhook {}", redacted(&url));
        Ok(Self { url, key, client, allow: options.allow, timeout: options.timeout, name })
    }

    /// Replaces the per-request timeout (10 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The endpoint events are posted to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Posts one event and returns the status of the successful answer; a failure carries the status in
    /// [`DeliveryError::status`] when the endpoint answered. The per-project dispatcher keeps both in its delivery
    /// log; [`Sink::deliver`] is this without the status.
    pub async fn post(&self, event: &CloudEvent) -> Result<u16, DeliveryError> {
        // Checked at construction already; checked again because a literal
        // IP host never reaches the client's filtering resolver, and this is
        // the last point before the connection.
        check_url(&self.url, &self.allow).map_err(|e| DeliveryError::permanent(format!("{}: {e}", self.name)))?;
        let body = serde_json::to_vec(event)
            .map_err(|e| DeliveryError::permanent(format!("cannot serialise event {}: {e}", event.id)))?;
        let timestamp = unix_now();
        let signature = sign_with_key(&self.key, &event.id, timestamp, &body);
        let response = self
            .client
            .post(self.url.clone())
            .timeout(self.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", &event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| classify_transport(&self.name, e))?;
        classify_status(&self.name, response.status(), response.headers())?;
        Ok(response.status().as_u16())
    }
}

#[async_trait]
impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, event: &CloudEvent) -> Result<(), DeliveryError> {
        self.post(event).await.map(|_| ())
    }
}

/// Maps a failure to get any response. A request we could not even build,
/// or a host that resolves only to forbidden addresses, is permanent;
/// timeouts, refused connections and broken streams are all the kind of
/// trouble that passes.
fn classify_transport(name: &str, error: reqwest::Error) -> DeliveryError {
    if let Some(refused) = find_ssrf_error(&error) {
        return DeliveryError::permanent(format!("{name}: {refused}"));
    }
    let message = format!("{name}: {error}");
    if error.is_builder() {
        DeliveryError::permanent(message)
    } else {
        DeliveryError::retryable(message)
    }
}

/// Maps a response status to delivered, retry later, or give up.
fn classify_status(name: &str, status: StatusCode, headers: &HeaderMap) -> Result<(), DeliveryError> {
    if status.is_success() {
        return Ok(());
    }
    let message = format!("{name}: endpoint answered {status}");
    let transient =
        status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT;
    if transient {
        Err(DeliveryError::retryable(message).with_retry_after(retry_after(headers)).with_status(status.as_u16()))
    } else {
        // Other 4xx answers mean the endpoint rejects this request as such,
        // and redirects are configuration mistakes; sending the same bytes
        // again would get the same answer.
        Err(DeliveryError::permanent(message).with_status(status.as_u16()))
    }
}

/// Reads `Retry-After` in its delay-seconds form. The HTTP-date form is rare
/// for webhooks and is ignored, leaving the engine's own backoff in charge.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The current time in unix seconds, as `webhook-timestamp` wants it.
fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The URL without credentials or query, so that it is safe to log.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    // Both setters only fail for URLs that cannot have credentials, which
    // http and https URLs always can.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers_with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn statuses_are_classified() {
        let none = HeaderMap::new();
        assert!(classify_status("t", StatusCode::NO_CONTENT, &none).is_ok());
        for retry in [408, 429, 500, 502, 503] {
            let status = StatusCode::from_u16(retry).unwrap();
            let err = classify_status("t", status, &none).unwrap_err();
            assert!(err.retryable, "{retry}");
            assert_eq!(err.status, Some(retry));
        }
        for give_up in [301, 400, 401, 404, 410, 422] {
            let status = StatusCode::from_u16(give_up).unwrap();
            assert!(!classify_status("t", status, &none).unwrap_err().retryable, "{give_up}");
        }
    }

    #[test]
    fn retry_after_seconds_are_honoured_and_dates_ignored() {
        assert_eq!(retry_after(&headers_with_retry_after(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers_with_retry_after("Wed, 21 Oct 2015 07:28:00 GMT")), None);
    }

    #[test]
    fn names_hide_credentials_and_query() {
        let url = Url::parse("https://user:pw@example.com/hook?token=abc").unwrap();
        assert_eq!(redacted(&url), "https://example.com/hook");
    }
}
