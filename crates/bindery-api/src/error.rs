//! Errors at the HTTP edge: one table of stable codes, each with its status, rendered as RFC 9457
//! `application/problem+json`.
//!
//! Clients branch on `code`, never on the human `detail`, so codes are part of the API contract: add new ones, never
//! rename. A document, artifact or project the caller may not see is reported exactly like one that does not exist
//! (`not_found`), so ids cannot be probed.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::time::Duration;

/// Every error the API returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication is required: send `Authorization: Bearer <token or API key>`")]
    Unauthenticated,
    #[error("the e-mail address or password is wrong")]
    BadCredentials,
    #[error("the access token is invalid or has expired; refresh it")]
    InvalidToken,
    #[error("this refresh token was already used; every session of this login has been revoked")]
    RefreshReused,
    #[error("you do not have the role needed for this ({0})")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the upload is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("{0}")]
    BodyTooLarge(String),
    #[error("the requested range is outside the {0} bytes of the object")]
    RangeNotSatisfiable(u64),
    #[error("too many requests; retry after {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    #[error("{0}")]
    Unprocessable(String),
    #[error("the service is not ready: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
    #[error("a request authenticated by cookie must repeat the bindery_csrf cookie in the x-csrf-token header")]
    Csrf,
    #[error("the service is busy; retry after {} s", .0.as_secs().max(1))]
    Busy(Duration),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error(
        "the request with this Idempotency-Key succeeded (status {0}), but its answer carried a secret, which is \
         never stored; it cannot be shown again"
    )]
    SecretNotReplayable(u16),
}

impl ApiError {
    /// The table: stable code and status for each variant.
    pub fn code_and_status(&self) -> (&'static str, StatusCode) {
        use ApiError::*;
        match self {
            BadRequest(_) => ("bad_request", StatusCode::BAD_REQUEST),
            Unauthenticated => ("unauthenticated", StatusCode::UNAUTHORIZED),
            BadCredentials => ("bad_credentials", StatusCode::UNAUTHORIZED),
            InvalidToken => ("invalid_token", StatusCode::UNAUTHORIZED),
            RefreshReused => ("refresh_token_reused", StatusCode::UNAUTHORIZED),
            Forbidden(_) => ("forbidden", StatusCode::FORBIDDEN),
            NotFound(_) => ("not_found", StatusCode::NOT_FOUND),
            Conflict(_) => ("conflict", StatusCode::CONFLICT),
            TooLarge(_) | BodyTooLarge(_) => ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
            RangeNotSatisfiable(_) => ("range_not_satisfiable", StatusCode::RANGE_NOT_SATISFIABLE),
            RateLimited(_) => ("rate_limited", StatusCode::TOO_MANY_REQUESTS),
            Unprocessable(_) => ("unprocessable", StatusCode::UNPROCESSABLE_ENTITY),
            Unavailable(_) => ("unavailable", StatusCode::SERVICE_UNAVAILABLE),
            Internal(_) => ("internal", StatusCode::INTERNAL_SERVER_ERROR),
            Csrf => ("csrf_failed", StatusCode::FORBIDDEN),
            Busy(_) => ("overloaded", StatusCode::SERVICE_UNAVAILABLE),
            MethodNotAllowed(_) => ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
            UnsupportedMediaType(_) => ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE),
            SecretNotReplayable(_) => ("secret_not_replayable", StatusCode::CONFLICT),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }

    /// An extractor's refusal (malformed JSON, a wrong content type, a bad path or query parameter, a body over its
    /// limit), by the status the extractor chose, with its explanation.
    pub fn rejected(status: StatusCode, detail: String) -> Self {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge(detail),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(detail),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Unprocessable(detail),
            s if s.is_server_error() => ApiError::Internal(detail),
            _ => ApiError::BadRequest(detail),
        }
    }
}

/// The RFC 9457 body, with Bindery's `code` extension member.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `https://bindery.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable, machine-readable error code.
    pub code: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, status) = self.code_and_status();
        if let ApiError::Internal(cause) = &self {
            // The cause stays in the log; clients get no internals.
            tracing::error!(cause, "request failed");
        }
        let body = Problem {
            kind: format!("https://bindery.dev/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: code.to_owned(),
        };
        let mut response = (status, serde_json::to_string(&body).unwrap_or_default()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let ApiError::RateLimited(wait) | ApiError::Busy(wait) = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        }
        if matches!(self, ApiError::Unauthenticated | ApiError::InvalidToken) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, ApiError::TooLarge(_) | ApiError::BodyTooLarge(_)) {
            // The rest of the body is never read, so the server drops the connection after this answer. Saying so
            // keeps a client from putting the connection back in its pool and writing its next request into a
            // closed socket (a broken pipe instead of an answer).
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<bindery_store::StoreError> for ApiError {
    fn from(e: bindery_store::StoreError) -> Self {
        if e.is_missing_parent() {
            // Handlers check what the caller names before writing; this is the race where it vanished meanwhile.
            ApiError::NotFound("the project or user this refers to".into())
        } else if e.is_duplicate() {
            ApiError::Conflict("it exists already".into())
        } else if e.is_retryable() {
            // The cause stays in the log; clients learn only that trying again may work.
            tracing::warn!(error = %e, "the store is unavailable");
            ApiError::Unavailable("the database did not answer in time; retry later".into())
        } else {
            ApiError::Internal(e.to_string())
        }
    }
}

impl From<bindery_blob::BlobError> for ApiError {
    fn from(e: bindery_blob::BlobError) -> Self {
        match e {
            bindery_blob::BlobError::TooLarge { limit } => ApiError::TooLarge(limit),
            bindery_blob::BlobError::NotFound(key) => ApiError::NotFound(format!("blob {key}")),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<bindery_engine::EngineError> for ApiError {
    fn from(e: bindery_engine::EngineError) -> Self {
        use bindery_engine::EngineError as E;
        match e {
            E::NotFound(what) => ApiError::NotFound(what),
            E::Invalid(why) => ApiError::Conflict(why),
            E::Store(s) => s.into(),
            E::Blob(b) => b.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_body_closes_the_connection_and_nothing_else_does() {
        for e in [ApiError::TooLarge(1), ApiError::BodyTooLarge(String::new())] {
            assert_eq!(e.into_response().headers()[header::CONNECTION], "close");
        }
        let other = ApiError::RateLimited(Duration::from_secs(1)).into_response();
        assert!(other.headers().get(header::CONNECTION).is_none());
    }

    /// Codes are a contract: this pins every one, so a rename shows up in review.
    #[test]
    fn every_code_has_a_status() {
        let all = [
            ApiError::BadRequest(String::new()),
            ApiError::Unauthenticated,
            ApiError::BadCredentials,
            ApiError::InvalidToken,
            ApiError::RefreshReused,
            ApiError::Forbidden(String::new()),
            ApiError::NotFound(String::new()),
            ApiError::Conflict(String::new()),
            ApiError::TooLarge(1),
            ApiError::RangeNotSatisfiable(1),
            ApiError::RateLimited(Duration::from_secs(1)),
            ApiError::Unprocessable(String::new()),
            ApiError::Unavailable(String::new()),
            ApiError::Internal(String::new()),
            ApiError::Csrf,
            ApiError::Busy(Duration::from_secs(1)),
            ApiError::MethodNotAllowed(String::new()),
            ApiError::UnsupportedMediaType(String::new()),
            ApiError::SecretNotReplayable(201),
            ApiError::BodyTooLarge(String::new()),
        ];
        let table: Vec<String> =
            all.iter().map(|e| format!("{} {}", e.code_and_status().0, e.code_and_status().1.as_u16())).collect();
        assert_eq!(
            table,
            [
                "bad_request 400",
                "unauthenticated 401",
                "bad_credentials 401",
                "invalid_token 401",
                "refresh_token_reused 401",
                "forbidden 403",
                "not_found 404",
                "conflict 409",
                "payload_too_large 413",
                "range_not_satisfiable 416",
                "rate_limited 429",
                "unprocessable 422",
                "unavailable 503",
                "internal 500",
                "csrf_failed 403",
                "overloaded 503",
                "method_not_allowed 405",
                "unsupported_media_type 415",
                "secret_not_replayable 409",
                "payload_too_large 413",
            ]
        );
    }

    #[test]
    fn rate_limited_carries_retry_after() {
        let r = ApiError::RateLimited(Duration::from_millis(2500)).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/problem+json");
    }
}
