//! The single error type of this crate.
//!
//! Callers mostly need one decision from an error: retry the job later or
//! fail it for good. `BlobError::is_retryable` encodes that decision so the
//! engine does not have to inspect backend-specific error variants.

use thiserror::Error;

/// Everything that can go wrong while storing or loading a blob.
#[derive(Debug, Error)]
pub enum BlobError {
    /// The store location could not be understood or configured.
    #[error("invalid blob store url: {0}")]
    InvalidUrl(String),

    /// A key was empty, absolute, or tried to climb out of the store root.
    #[error("invalid blob key: {0}")]
    InvalidKey(String),

    /// The requested object does not exist.
    #[error("blob not found: {0}")]
    NotFound(String),

    /// The object (or the input being stored) is larger than the allowed limit.
    #[error("blob exceeds the size limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes, that was exceeded.
        limit: u64,
    },

    /// Reading the local input failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),

    /// The storage backend reported an error.
    #[error("storage backend error: {0}")]
    Backend(object_store::Error),
}

impl BlobError {
    /// Returns true when the same operation may succeed if tried again later.
    ///
    /// Network and storage failures are treated as transient. Bad input, size
    /// violations, missing objects and misconfiguration are permanent, because
    /// retrying them would only produce the same failure again.
    pub fn is_retryable(&self) -> bool {
        match self {
            BlobError::InvalidUrl(_)
            | BlobError::InvalidKey(_)
            | BlobError::NotFound(_)
            | BlobError::TooLarge { .. } => false,
            BlobError::Io(err) => !matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::InvalidInput
            ),
            BlobError::Backend(err) => !matches!(
                err,
                object_store::Error::NotFound { .. }
                    | object_store::Error::InvalidPath { .. }
                    | object_store::Error::NotSupported { .. }
                    | object_store::Error::NotImplemented
                    | object_store::Error::UnknownConfigurationKey { .. }
            ),
        }
    }
}

impl From<object_store::Error> for BlobError {
    /// Missing objects get their own variant so callers can match on them
    /// without knowing about `object_store`.
    fn from(err: object_store::Error) -> Self {
        match err {
            object_store::Error::NotFound { path, .. } => BlobError::NotFound(path),
            other => BlobError::Backend(other),
        }
    }
}
