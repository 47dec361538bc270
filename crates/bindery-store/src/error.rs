//! The store's error type. Whether a failure is worth retrying is explicit,
//! because the engine's retry loop depends on it.

use bindery_core::Expected;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("stream {stream} is at version {actual}, but the writer expected {expected:?}")]
    Conflict { stream: String, expected: Expected, actual: i64 },
    #[error("job {0} is no longer running under this worker (cancelled, or its lease was lost)")]
    LeaseLost(i64),
    #[error("invalid database url: {0}")]
    InvalidUrl(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the same operation may succeed if tried again: connection
    /// trouble, lock timeouts, serialisation failures and version conflicts
    /// (after re-reading) are; a lost lease or bad input is not.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Conflict { .. } => true,
            StoreError::Database(e) => !matches!(
                e,
                sqlx::Error::RowNotFound | sqlx::Error::ColumnDecode { .. } | sqlx::Error::TypeNotFound { .. }
            ),
            _ => false,
        }
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}
