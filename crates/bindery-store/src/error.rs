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
    /// Whether the same operation may succeed if tried again, decided
    /// explicitly: connection trouble, pool timeouts, serialisation
    /// failures, deadlocks, a busy or locked database, and version
    /// conflicts (after re-reading) are; everything else (a constraint
    /// violation, bad input, a lost lease, a corrupt row) is permanent, so
    /// it is neither retried by the engine nor answered as "try later".
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Conflict { .. } => true,
            StoreError::Database(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|c| transient_code(&c)),
                _ => false,
            },
            _ => false,
        }
    }

    /// A row refers to a parent that does not exist (a project, a user):
    /// the caller named something missing.
    pub fn is_missing_parent(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.is_foreign_key_violation())
    }

    /// A row with the same unique key exists already.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}

/// Database error codes that mean "try again": PostgreSQL's serialisation
/// failure, deadlock, lock not available, shutdown and connection classes;
/// SQLite's BUSY and LOCKED (with their extended codes). PostgreSQL's
/// codes are always five characters; SQLite's are decimal numbers below
/// 10,000.
fn transient_code(code: &str) -> bool {
    matches!(code, "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" | "53300")
        || code.starts_with("08")
        || (code.len() < 5 && code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retryable() {
        for code in ["40001", "40P01", "08006", "5", "6", "517", "262"] {
            assert!(transient_code(code), "{code}");
        }
        // Constraint violations (unique, foreign key, check) and syntax errors are permanent.
        for code in ["23505", "23503", "23514", "42601", "19", "787", "2067", "1"] {
            assert!(!transient_code(code), "{code}");
        }
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_retryable());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_retryable());
        assert!(!StoreError::Database(sqlx::Error::Protocol("x".into())).is_retryable());
        assert!(!StoreError::Corrupt("x".into()).is_retryable());
    }
}
