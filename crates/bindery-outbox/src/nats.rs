//! The NATS sink: publishes each event to JetStream and waits for its ack.
//!
//! Plain NATS publishing is fire-and-forget, which would break the engine's
//! at-least-once promise, so the sink publishes through JetStream and only
//! reports success once the stream has stored the message. Every message
//! carries `Nats-Msg-Id` = event id: when the engine redelivers an event
//! inside the stream's duplicate window (two minutes by default), JetStream
//! acknowledges it without storing a second copy.
//!
//! The connection is made lazily on the first delivery, and the stream is
//! created there too if it is missing. After any failure the connection is
//! dropped and the next delivery starts afresh, which also recreates a stream
//! that someone deleted in the meantime.

use crate::error::{ConfigError, DeliveryError};
use crate::sink::Sink;
use async_nats::jetstream::{self, stream};
use async_nats::{header, HeaderMap};
use async_trait::async_trait;
use bindery_core::event::CloudEvent;
use std::time::Duration;
use tokio::sync::Mutex;

/// The subject prefix used when the spec names none.
pub const DEFAULT_SUBJECT_PREFIX: &str = "bindery";

/// The stream name used when the spec names none.
pub const DEFAULT_STREAM: &str = "BINDERY";

/// How long establishing a connection may take before the delivery fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Publishes events to `{prefix}.{event type}` on a JetStream stream.
pub struct NatsSink {
    server: String,
    prefix: String,
    stream: String,
    name: String,
    context: Mutex<Option<jetstream::Context>>,
}

impl std::fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSink")
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl NatsSink {
    /// Describes a sink without connecting. `server` is what async-nats
    /// accepts, such as `nats://127.0.0.1:4222`; `display` is the same
    /// address without credentials, used in [`Sink::name`].
    pub fn new(server: &str, display: &str, subject_prefix: &str, stream: &str) -> Result<Self, ConfigError> {
        validate_subject("subject_prefix", subject_prefix)?;
        validate_stream_name(stream)?;
        Ok(Self {
            server: server.to_owned(),
            prefix: subject_prefix.to_owned(),
            stream: stream.to_owned(),
            name: format!("nats {display} stream {stream}"),
            context: Mutex::new(None),
        })
    }

    /// The stream events are stored in.
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// The subject an event is published to: `{prefix}.{type}`.
    pub fn subject_for(&self, event: &CloudEvent) -> Result<String, DeliveryError> {
        validate_subject("event type", &event.ty).map_err(|e| DeliveryError::permanent(e.to_string()))?;
        Ok(format!("{}.{}", self.prefix, event.ty))
    }

    /// Connects and ensures the stream exists, if that has not happened yet.
    /// Deliveries do this themselves; calling it up front only makes an
    /// unreachable server visible earlier.
    pub async fn connect(&self) -> Result<(), DeliveryError> {
        self.context().await.map(drop)
    }

    /// Returns the live JetStream context, connecting first when needed.
    async fn context(&self) -> Result<jetstream::Context, DeliveryError> {
        let mut slot = self.context.lock().await;
        if let Some(context) = slot.as_ref() {
            return Ok(context.clone());
        }
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(CONNECT_TIMEOUT)
            .connect(self.server.as_str())
            .await
            .map_err(|e| DeliveryError::retryable(format!("{}: cannot connect: {e}", self.name)))?;
        let context = jetstream::new(client);
        context
            .get_or_create_stream(stream::Config {
                name: self.stream.clone(),
                subjects: vec![format!("{}.>", self.prefix)],
                ..Default::default()
            })
            .await
            .map_err(|e| DeliveryError::retryable(format!("{}: cannot ensure the stream: {e}", self.name)))?;
        tracing::debug!(sink = %self.name, "connected to NATS");
        *slot = Some(context.clone());
        Ok(context)
    }

    /// Forgets the connection so that the next delivery reconnects.
    async fn reset(&self) {
        self.context.lock().await.take();
    }

    /// Publishes and waits for the ack, without any reconnect handling.
    async fn publish(
        &self,
        context: &jetstream::Context,
        subject: String,
        event: &CloudEvent,
    ) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(event)
            .map_err(|e| DeliveryError::permanent(format!("cannot serialise event {}: {e}", event.id)))?;
        let mut headers = HeaderMap::new();
        headers.insert(header::NATS_MESSAGE_ID, event.id.as_str());
        headers.insert("Content-Type", "application/cloudevents+json");
        let ack = context
            .publish_with_headers(subject, headers, body.into())
            .await
            .map_err(|e| DeliveryError::retryable(format!("{}: publish failed: {e}", self.name)))?
            .await
            .map_err(|e| DeliveryError::retryable(format!("{}: no ack from JetStream: {e}", self.name)))?;
        if ack.duplicate {
            tracing::debug!(sink = %self.name, event = %event.id, "JetStream dropped a redelivered event");
        }
        Ok(())
    }
}

#[async_trait]
impl Sink for NatsSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, event: &CloudEvent) -> Result<(), DeliveryError> {
        let subject = self.subject_for(event)?;
        let context = self.context().await?;
        let result = self.publish(&context, subject, event).await;
        if matches!(&result, Err(e) if e.retryable) {
            self.reset().await;
        }
        result
    }
}

/// Checks that `value` is a literal subject: dot-separated, non-empty tokens
/// without whitespace or wildcards.
fn validate_subject(what: &str, value: &str) -> Result<(), ConfigError> {
    let bad_token = value
        .split('.')
        .any(|token| token.is_empty() || token.contains(|c: char| c.is_whitespace() || c == '*' || c == '>'));
    if bad_token {
        return Err(ConfigError::InvalidOption {
            name: what.to_owned(),
            reason: format!("{value:?} is not a literal NATS subject"),
        });
    }
    Ok(())
}

/// Checks a stream name against the characters JetStream forbids.
fn validate_stream_name(value: &str) -> Result<(), ConfigError> {
    let forbidden = |c: char| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\');
    if value.is_empty() || value.contains(forbidden) {
        return Err(ConfigError::InvalidOption {
            name: "stream".to_owned(),
            reason: format!("{value:?} is not a valid JetStream stream name"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_must_be_literal() {
        assert!(validate_subject("t", "bindery").is_ok());
        assert!(validate_subject("t", "a.b.c").is_ok());
        for bad in ["", "a..b", ".a", "a.", "a.*", "a.>", "a b"] {
            assert!(validate_subject("t", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stream_names_are_checked() {
        assert!(validate_stream_name("BINDERY").is_ok());
        for bad in ["", "A.B", "A B", "A/B"] {
            assert!(validate_stream_name(bad).is_err(), "{bad:?}");
        }
    }
}
