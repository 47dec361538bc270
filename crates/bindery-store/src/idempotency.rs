//! Idempotency-Key records, for the HTTP API's replay of retried POSTs.
//!
//! The IETF httpapi draft "The Idempotency-Key HTTP Header Field" asks a
//! server to remember, per client and key, the request's fingerprint and its
//! response, so a retry gets the same answer instead of a second effect. The
//! record is claimed atomically before the request runs (a concurrent repeat
//! sees it in flight), completed with the response, or released when the
//! request failed in a way worth retrying. Records expire after a day.

use crate::Result;
use async_trait::async_trait;
use bindery_core::time::Millis;

/// A stored response, replayed to repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What [`Idempotency::claim_idempotency_key`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key was free (or its record expired): the caller runs the request and then completes or releases it.
    Claimed,
    /// Another request with this key has not finished; `fingerprint` is the one it was made with.
    InFlight { fingerprint: String },
    /// The key was used before; replay `response` if `fingerprint` matches.
    Completed { fingerprint: String, response: StoredResponse },
}

#[async_trait]
pub trait Idempotency: Send + Sync {
    /// Claims `(scope, key)` for a request with `fingerprint`, at `now`. An existing record created before
    /// `expired_before` is replaced, and so is one still in flight since before `stale_before` (its request died).
    async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Millis,
        expired_before: Millis,
        stale_before: Millis,
    ) -> Result<IdempotencyClaim>;
    /// Stores the response of the claimed request.
    async fn complete_idempotency_key(&self, scope: &str, key: &str, response: &StoredResponse) -> Result<()>;
    /// Forgets a claimed record whose request should be retryable (a server error, an aborted request).
    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<()>;
    /// Deletes records created before `before`; returns how many.
    async fn prune_idempotency_keys(&self, before: Millis) -> Result<u64>;
}
