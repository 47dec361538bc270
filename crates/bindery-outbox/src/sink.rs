//! The one abstraction the engine drives: something that accepts an event.
//!
//! Keeping the trait this small lets the engine treat webhooks, NATS and Redis
//! alike. It decides what to do with a failure (retry later, or give up) from
//! the [`DeliveryError`] alone, so every sink has to classify its failures.

use crate::error::DeliveryError;
use async_trait::async_trait;
use bindery_core::event::CloudEvent;

/// A destination for events.
///
/// The engine calls `deliver` with events in global sequence order and only
/// advances its cursor when it returns `Ok`. The same event may be delivered
/// more than once, so implementations must make redelivery idempotent or at
/// least detectable by the receiver.
#[async_trait]
pub trait Sink: Send + Sync {
    /// A short, human-readable label for logs and metrics. It never contains
    /// credentials.
    fn name(&self) -> &str;

    /// Hands one event to the destination and waits until it has accepted it.
    async fn deliver(&self, event: &CloudEvent) -> Result<(), DeliveryError>;
}
