//! Webhook endpoints per project, and their delivery log.
//!
//! A project's owners register endpoints (a URL, an optional filter on event types, a signing secret); the engine's
//! dispatcher fans every event of the project's documents out into one *delivery* per matching endpoint, then posts
//! each delivery until it succeeds, fails for good or runs out of attempts, writing one *attempt* row per try.
//!
//! Three properties make this safe to run in many processes at once:
//! - a delivery is unique per (endpoint, event id), so fanning an event out twice (a fan-out that crashed before
//!   saving its cursor) enqueues nothing new;
//! - claiming a delivery pushes its `next_attempt_ms` to the end of a lease, which doubles as the claim's token:
//!   a process killed mid-delivery leaves a delivery that becomes due again when the lease ends, and a late report
//!   from a process that lost its lease changes nothing ([`Webhooks::record_attempt`] returns `recorded: false`);
//! - claims skip rows another transaction holds (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer).
//!
//! The signing secret must be kept in clear, since deliveries are signed with it (unlike passwords and API keys,
//! which are only ever compared). It is never part of [`WebhookEndpoint`]: only the sender's claim and the explicit
//! [`Webhooks::webhook_secret`] read it.

use crate::Result;
use async_trait::async_trait;
use bindery_core::time::Millis;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An endpoint, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub project: String,
    pub url: String,
    pub description: String,
    /// Event types delivered: exact names, or a prefix ending in `*` (`document.*`). Empty means every type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why the endpoint is disabled (too many failures, or an owner), when it is.
    pub disabled_reason: Option<String>,
    /// Failed attempts in a row; reset by a success or by re-enabling.
    pub failure_streak: i32,
    pub created_ms: Millis,
    pub updated_ms: Millis,
}

impl WebhookEndpoint {
    /// Whether events of type `ty` go to this endpoint.
    pub fn accepts(&self, ty: &str) -> bool {
        type_matches(&self.event_types, ty)
    }
}

/// Whether `ty` passes a filter: empty accepts everything; `a.*` (or any text ending in `*`) accepts every type that
/// starts with the text before the `*`; anything else must be equal.
pub fn type_matches(filters: &[String], ty: &str) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| match f.strip_suffix('*') {
            Some(prefix) => ty.starts_with(prefix),
            None => f == ty,
        })
}

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookUpdate {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// Enabling clears the reason, resets the failure streak and makes waiting deliveries due at once; disabling
    /// records [`DISABLED_BY_OWNER`].
    pub enabled: Option<bool>,
}

/// The reason recorded when an owner disables an endpoint.
pub const DISABLED_BY_OWNER: &str = "disabled by a project owner";

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its next attempt (or in flight).
    Pending,
    Delivered,
    /// Given up: a permanent error, or no attempts left. An owner may retry it.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// One event for one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub id: i64,
    pub endpoint: String,
    pub event_id: String,
    pub event_type: String,
    /// The CloudEvent JSON, posted as the body.
    pub payload: Value,
    pub state: DeliveryState,
    pub attempts: i32,
    /// When the next attempt is due (the lease end while one is in flight).
    pub next_attempt_ms: Millis,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_ms: Millis,
    pub updated_ms: Millis,
}

/// A delivery to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDelivery {
    pub endpoint: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: Value,
    /// When it is first due; a time in the future holds it (the API's test delivery claims its own row this way).
    pub next_attempt_ms: Millis,
}

/// A claimed delivery with what sending it takes.
#[derive(Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub delivery: WebhookDelivery,
    pub url: String,
    pub secret: String,
    /// The claim's token: report the attempt with it.
    pub lease_until: Millis,
}

impl std::fmt::Debug for ClaimedDelivery {
    // The secret is left out so that it never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedDelivery")
            .field("delivery", &self.delivery)
            .field("lease_until", &self.lease_until)
            .finish_non_exhaustive()
    }
}

/// What follows an attempt, decided by the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    /// Try again at this time.
    Retry(Millis),
    Failed,
}

/// One attempt's outcome, as the sender reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptReport {
    pub delivery: i64,
    /// The token of the claim the attempt was made under.
    pub lease_until: Millis,
    /// When the attempt started.
    pub time_ms: Millis,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub next: NextStep,
    /// Counts the attempt in the endpoint's failure streak, disabling the endpoint when a failure brings the streak
    /// to this many; `None` leaves the endpoint alone (test deliveries).
    pub disable_after: Option<i32>,
}

/// What recording an attempt did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// False when the claim was lost (its lease ended and another process claimed the delivery, or an owner retried
    /// it): nothing was written.
    pub recorded: bool,
    /// The attempt's number (1 for the first).
    pub attempt: i32,
    /// True when this attempt disabled the endpoint.
    pub disabled: bool,
}

/// One row of the delivery log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub attempt: i32,
    pub time_ms: Millis,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[async_trait]
pub trait Webhooks: Send + Sync {
    /// Stores a new endpoint with its signing secret.
    async fn create_webhook(&self, endpoint: &WebhookEndpoint, secret: &str) -> Result<()>;
    /// An endpoint of `project`.
    async fn webhook(&self, project: &str, id: &str) -> Result<Option<WebhookEndpoint>>;
    /// The endpoints of `project`, oldest first.
    async fn webhooks(&self, project: &str) -> Result<Vec<WebhookEndpoint>>;
    /// Applies `update`; `None` when `project` has no such endpoint.
    async fn update_webhook(
        &self,
        project: &str,
        id: &str,
        update: &WebhookUpdate,
        now: Millis,
    ) -> Result<Option<WebhookEndpoint>>;
    /// Deletes an endpoint with its deliveries and their attempts; false when there was none.
    async fn delete_webhook(&self, project: &str, id: &str) -> Result<bool>;
    /// Replaces the signing secret; false when `project` has no such endpoint.
    async fn rotate_webhook_secret(&self, project: &str, id: &str, secret: &str, now: Millis) -> Result<bool>;
    /// The signing secret, for the sender only (the API never returns it except at creation and rotation).
    async fn webhook_secret(&self, id: &str) -> Result<Option<String>>;

    /// Enqueues deliveries, ignoring those whose (endpoint, event) already exists; returns how many are new.
    async fn enqueue_deliveries(&self, deliveries: &[NewDelivery], now: Millis) -> Result<u64>;
    /// Claims up to `limit` pending deliveries that are due, of enabled endpoints, oldest due first, pushing their
    /// `next_attempt_ms` to `lease_until`.
    async fn claim_deliveries(&self, limit: usize, lease_until: Millis, now: Millis) -> Result<Vec<ClaimedDelivery>>;
    /// Records an attempt made under a claim, and its consequences for the delivery and the endpoint, in one
    /// transaction.
    async fn record_attempt(&self, report: &AttemptReport, now: Millis) -> Result<Recorded>;
    /// A delivery of `endpoint`.
    async fn delivery(&self, endpoint: &str, id: i64) -> Result<Option<WebhookDelivery>>;
    /// The delivery of `event` to `endpoint`.
    async fn delivery_for_event(&self, endpoint: &str, event: &str) -> Result<Option<WebhookDelivery>>;
    /// Deliveries of `endpoint`, newest first, with ids below `before` (cursor pagination).
    async fn deliveries(&self, endpoint: &str, before: Option<i64>, limit: i64) -> Result<Vec<WebhookDelivery>>;
    /// A delivery's attempts, first first.
    async fn delivery_attempts(&self, delivery: i64) -> Result<Vec<DeliveryAttempt>>;
    /// Makes a delivery of `endpoint` pending and due at `now`, whatever its state; `None` when there is none.
    async fn retry_delivery(&self, endpoint: &str, id: i64, now: Millis) -> Result<Option<WebhookDelivery>>;
}

/// The delivery's new `state` and `next_attempt_ms` after an attempt.
pub(crate) fn next_columns(next: NextStep, now: Millis) -> (&'static str, Millis) {
    match next {
        NextStep::Delivered => ("delivered", now),
        NextStep::Retry(at) => ("pending", at),
        NextStep::Failed => ("failed", now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_exact_types_and_prefixes() {
        let f = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(type_matches(&[], "document.ready"));
        assert!(type_matches(&f(&["document.*"]), "document.ready"));
        assert!(!type_matches(&f(&["document.*"]), "stage.completed"));
        assert!(type_matches(&f(&["stage.failed", "document.ready"]), "document.ready"));
        assert!(!type_matches(&f(&["document.ready"]), "document.ready.later"));
        assert!(type_matches(&f(&["*"]), "anything"));
    }
}
