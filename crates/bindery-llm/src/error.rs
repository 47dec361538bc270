//! The one error type of the crate, and the line between what may be tried
//! again and what may not.
//!
//! The distinction follows the protocol, not our taste: a 429, a 5xx, a
//! timeout, a broken connection or a body that is not the protocol's shape
//! can all go away on their own, so they are retryable; a 4xx says that the
//! request itself (or its key, or the thing it names) is wrong, and sending
//! it again would only be refused again.

use std::time::Duration;

/// Everything that can go wrong when talking to a provider.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// HTTP 429 (other than an exhausted quota): the provider asks us to slow
    /// down, possibly saying for how long.
    #[error("rate limited: {message}")]
    RateLimited { retry_after: Option<Duration>, message: String },

    /// HTTP 5xx: the provider failed.
    #[error("server error {status}: {message}")]
    Server { status: u16, message: String },

    /// No answer within the request's time limit (or HTTP 408).
    #[error("timed out: {0}")]
    Timeout(String),

    /// The connection could not be made or broke.
    #[error("transport error: {0}")]
    Transport(String),

    /// The client's circuit breaker is open: recent calls failed, so this one
    /// fails at once, without a request, until `retry_in` has passed.
    #[error("circuit breaker of provider {provider} is open; retry in {retry_in:?}")]
    BreakerOpen { provider: String, retry_in: Duration },

    /// A permanent refusal: HTTP 400, 401, 403, 404, 409, 413, 422 and every
    /// other 4xx except 408 and 429, and a 429 whose code says that the
    /// account's quota is exhausted (`insufficient_quota`, which waiting does
    /// not cure). Status 0 means that the request never left: the
    /// [`ProviderOptions`](crate::ProviderOptions) themselves were refused
    /// (code `invalid_options`).
    #[error("refused ({status}{}): {message}", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Refused { status: u16, code: Option<String>, message: String },

    /// The response body is not the protocol's shape (not JSON, or JSON
    /// without the fields every provider sends).
    #[error("malformed response: {0}")]
    Malformed(String),

    /// A body larger than the caller's limit; the number is how many bytes
    /// were known (from `Content-Length`) or seen when reading stopped.
    #[error("response too large: at least {0} bytes, over the limit")]
    TooLarge(u64),
}

impl LlmError {
    /// Whether the same call may succeed later. [`LlmError::BreakerOpen`] is
    /// retryable: the breaker closes again on its own.
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::RateLimited { .. }
            | LlmError::Server { .. }
            | LlmError::Timeout(_)
            | LlmError::Transport(_)
            | LlmError::BreakerOpen { .. }
            | LlmError::Malformed(_) => true,
            LlmError::Refused { .. } | LlmError::TooLarge(_) => false,
        }
    }

    /// A short label for metrics (`outcome`) and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::RateLimited { .. } => "rate_limited",
            LlmError::Server { .. } => "server_error",
            LlmError::Timeout(_) => "timeout",
            LlmError::Transport(_) => "transport",
            LlmError::BreakerOpen { .. } => "breaker_open",
            LlmError::Refused { .. } => "refused",
            LlmError::Malformed(_) => "malformed",
            LlmError::TooLarge(_) => "too_large",
        }
    }

    /// An error for options that cannot work (a base URL that is not one).
    pub(crate) fn invalid_options(message: impl Into<String>) -> LlmError {
        LlmError::Refused { status: 0, code: Some("invalid_options".into()), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_and_transient_kinds() {
        assert!(LlmError::RateLimited { retry_after: None, message: String::new() }.is_retryable());
        assert!(LlmError::Server { status: 503, message: String::new() }.is_retryable());
        assert!(LlmError::Timeout("x".into()).is_retryable());
        assert!(LlmError::Malformed("x".into()).is_retryable());
        assert!(!LlmError::Refused { status: 400, code: None, message: String::new() }.is_retryable());
        assert!(!LlmError::TooLarge(10).is_retryable());
    }

    #[test]
    fn refusal_names_its_code() {
        let e = LlmError::Refused { status: 401, code: Some("invalid_api_key".into()), message: "no".into() };
        assert_eq!(e.to_string(), "refused (401, invalid_api_key): no");
    }
}
