//! Errors of the outbox, split by who has to act on them.
//!
//! A [`ConfigError`] means the operator wrote a spec or secret the outbox
//! cannot use, so it is reported once at start-up. A [`DeliveryError`] comes
//! back from a single delivery and tells the engine whether trying again can
//! help. A [`VerifyError`] is for receivers checking a webhook signature.

use crate::ssrf::SsrfError;
use std::time::Duration;
use thiserror::Error;

/// A sink spec or secret that cannot be used.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The spec is not a URL at all.
    #[error("invalid sink spec {spec:?}: {reason}")]
    InvalidSpec { spec: String, reason: String },
    /// The URL scheme names no sink this crate knows.
    #[error("unsupported sink scheme {0:?} (expected http, https, nats or redis)")]
    UnsupportedScheme(String),
    /// A query parameter is unknown or has an unusable value.
    #[error("invalid sink option {name:?}: {reason}")]
    InvalidOption { name: String, reason: String },
    /// A webhook sink was requested without a signing secret.
    #[error("webhook sinks need a signing secret")]
    MissingSecret,
    /// The signing secret is empty or its `whsec_` payload is not base64.
    #[error("invalid webhook secret: {0}")]
    InvalidSecret(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    /// The webhook URL points at an address deliveries may not reach (or is
    /// otherwise unsafe to request), so it is refused before the first event.
    /// The reason is part of the message rather than a `source`, so that
    /// error reports that print the chain do not repeat it.
    #[error("webhook URL refused: {0}")]
    Refused(SsrfError),
}

impl From<SsrfError> for ConfigError {
    fn from(e: SsrfError) -> Self {
        ConfigError::Refused(e)
    }
}

/// Why one delivery failed, and whether trying again may succeed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{message}")]
pub struct DeliveryError {
    /// Whether the same event may be delivered successfully later.
    pub retryable: bool,
    /// What went wrong, for logs.
    pub message: String,
    /// How long the destination asked us to wait, when it said so.
    pub retry_after: Option<Duration>,
    /// The HTTP status the destination answered, when it answered at all (webhooks only).
    pub status: Option<u16>,
}

impl DeliveryError {
    /// A failure that may go away by itself: timeouts, outages, throttling.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self { retryable: true, message: message.into(), retry_after: None, status: None }
    }

    /// A failure that repeating the same request cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { retryable: false, message: message.into(), retry_after: None, status: None }
    }

    /// Records the status the destination answered.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Records the delay the destination asked for.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }
}

/// Why a received webhook was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// A required `webhook-*` header is absent or not valid text.
    #[error("missing or unreadable header {0}")]
    MissingHeader(&'static str),
    /// The `webhook-timestamp` header is not an integer.
    #[error("webhook-timestamp is not a unix timestamp")]
    InvalidTimestamp,
    /// The timestamp is further from now than the tolerance allows, which is
    /// how replayed messages are caught.
    #[error("webhook timestamp {timestamp} is outside the tolerance of {tolerance_secs} s around {now}")]
    StaleTimestamp { timestamp: i64, now: i64, tolerance_secs: i64 },
    /// No `v1` signature in the header matches the message.
    #[error("no matching webhook signature")]
    NoMatchingSignature,
    /// The receiver's own secret is unusable.
    #[error(transparent)]
    Secret(#[from] ConfigError),
}
