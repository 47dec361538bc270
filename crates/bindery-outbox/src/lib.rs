//! Bindery's outbox: delivers appended events to systems outside the engine.
//!
//! The engine keeps a cursor over the event log and hands every event, in
//! global `sequence` order, to one [`Sink`]. Delivery is at least once: the
//! cursor only moves after `deliver` returns `Ok`, so a crash or a retryable
//! error means the same event is offered again. Each sink is therefore built
//! to make redelivery harmless on the receiving side: webhooks carry a stable
//! `webhook-id`, NATS messages a `Nats-Msg-Id` for JetStream's duplicate
//! window, and Redis entries an id derived from the sequence.
//!
//! Sinks are configured from a single spec string with [`parse_sink`]. Parsing
//! is synchronous and never touches the network; the NATS and Redis sinks
//! connect lazily on their first delivery and reconnect after a failed one, so
//! an unreachable broker shows up as a retryable [`DeliveryError`] rather than
//! as a start-up failure. Callers that prefer to fail fast can call the
//! sinks' own `connect` methods after construction.
//!
//! Webhooks are only delivered to public addresses unless the operator
//! allowlists private ones; see [`ssrf`].

mod error;
mod nats;
mod redis_stream;
mod signature;
mod sink;
mod spec;
pub mod ssrf;
mod webhook;

pub use error::{ConfigError, DeliveryError, VerifyError};
pub use nats::{NatsSink, DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX};
pub use redis_stream::{entry_id, RedisSink, DEFAULT_STREAM_KEY};
pub use signature::{generate_secret, sign, verify, SignatureHeaders};
pub use sink::Sink;
pub use spec::{parse_sink, parse_sink_with};
pub use ssrf::{check_url, is_forbidden, safe_client, Allowlist, AllowlistError, SsrfError};
pub use webhook::{WebhookOptions, WebhookSink, DEFAULT_TIMEOUT};
