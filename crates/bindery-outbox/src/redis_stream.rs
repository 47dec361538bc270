//! The Redis sink: appends each event to a Redis Stream with `XADD`.
//!
//! Redis has no duplicate window, so idempotence comes from the entry id
//! instead: every event is written with the explicit id `<sequence>-1`. Entry
//! ids must grow, so Redis refuses to write a sequence that is already in the
//! stream (or older than its newest entry) with "equal or smaller than the
//! target stream top item". Because the engine delivers in sequence order, that
//! refusal can only mean the event was written by an earlier attempt, so the
//! sink reports it as delivered. The `-1` suffix keeps sequence 0 usable,
//! since Redis rejects the id `0-0`.
//!
//! The connection is a multiplexed one, opened lazily on the first delivery
//! and dropped after connection-level failures so that the next delivery
//! reconnects. Trimming the stream is left to the operator.

use crate::error::{ConfigError, DeliveryError};
use crate::sink::Sink;
use async_trait::async_trait;
use bindery_core::event::CloudEvent;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError};
use std::time::Duration;
use tokio::sync::Mutex;

/// The stream key used when the spec names none.
pub const DEFAULT_STREAM_KEY: &str = "bindery:events";

/// How long establishing a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one command may wait for its reply.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The part of Redis's error text that marks an already-written entry id.
const ALREADY_WRITTEN: &str = "equal or smaller than the target stream top item";

/// The stream entry id an event is written under: `<sequence>-1`.
pub fn entry_id(sequence: i64) -> String {
    format!("{sequence}-1")
}

/// Appends events to one Redis Stream.
pub struct RedisSink {
    client: redis::Client,
    key: String,
    name: String,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl std::fmt::Debug for RedisSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSink").field("name", &self.name).field("key", &self.key).finish_non_exhaustive()
    }
}

impl RedisSink {
    /// Describes a sink without connecting. `url` is what redis-rs accepts,
    /// such as `redis://127.0.0.1:6379/0`; `display` is the same address
    /// without credentials, used in [`Sink::name`].
    pub fn new(url: &str, display: &str, stream_key: &str) -> Result<Self, ConfigError> {
        if stream_key.is_empty() {
            return Err(ConfigError::InvalidOption { name: "stream".into(), reason: "the stream key is empty".into() });
        }
        let client = redis::Client::open(url)
            .map_err(|e| ConfigError::InvalidSpec { spec: display.to_owned(), reason: e.to_string() })?;
        Ok(Self {
            client,
            key: stream_key.to_owned(),
            name: format!("redis {display} stream {stream_key}"),
            connection: Mutex::new(None),
        })
    }

    /// The key of the stream events are appended to.
    pub fn stream_key(&self) -> &str {
        &self.key
    }

    /// Opens the connection if that has not happened yet. Deliveries do this
    /// themselves; calling it up front only surfaces problems earlier.
    pub async fn connect(&self) -> Result<(), DeliveryError> {
        self.connection().await.map(drop)
    }

    /// Returns the shared connection, opening it first when needed.
    async fn connection(&self) -> Result<MultiplexedConnection, DeliveryError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config =
            AsyncConnectionConfig::new().set_connection_timeout(CONNECT_TIMEOUT).set_response_timeout(RESPONSE_TIMEOUT);
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| DeliveryError::retryable(format!("{}: cannot connect: {e}", self.name)))?;
        tracing::debug!(sink = %self.name, "connected to Redis");
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Forgets a connection that can no longer be trusted.
    async fn reset(&self) {
        self.connection.lock().await.take();
    }
}

#[async_trait]
impl Sink for RedisSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, event: &CloudEvent) -> Result<(), DeliveryError> {
        if event.sequence < 0 {
            return Err(DeliveryError::permanent(format!(
                "event {} has the negative sequence {}",
                event.id, event.sequence
            )));
        }
        let body = serde_json::to_vec(event)
            .map_err(|e| DeliveryError::permanent(format!("cannot serialise event {}: {e}", event.id)))?;
        let mut connection = self.connection().await?;
        let result: Result<String, RedisError> = redis::cmd("XADD")
            .arg(&self.key)
            .arg(entry_id(event.sequence))
            .arg("id")
            .arg(&event.id)
            .arg("type")
            .arg(&event.ty)
            .arg("subject")
            .arg(&event.subject)
            .arg("sequence")
            .arg(event.sequence)
            .arg("event")
            .arg(body)
            .query_async(&mut connection)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_already_written(&e) => {
                tracing::debug!(sink = %self.name, event = %event.id, "Redis already holds this sequence");
                Ok(())
            }
            Err(e) => {
                if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || e.is_unrecoverable_error()
                {
                    self.reset().await;
                }
                Err(DeliveryError::retryable(format!("{}: XADD failed: {e}", self.name)))
            }
        }
    }
}

/// Whether Redis refused the entry because its id is not above the top.
fn is_already_written(error: &RedisError) -> bool {
    error.to_string().contains(ALREADY_WRITTEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_follow_the_sequence_and_avoid_zero_zero() {
        assert_eq!(entry_id(0), "0-1");
        assert_eq!(entry_id(42), "42-1");
    }
}
