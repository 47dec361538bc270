//! Bindery's domain model: identifiers, CloudEvents, pipelines, jobs, retry
//! policy, the document projection, and what an upload is (its media type,
//! from its first bytes).
//!
//! This crate does no IO on purpose. Everything here is a pure function of its
//! inputs, so the store, the engine and the CLI can share one definition of
//! what an event means and how a document's state follows from its events,
//! and `bindery replay` is guaranteed to rebuild the same read models.

pub mod book;
pub mod event;
pub mod ids;
pub mod job;
pub mod media;
pub mod pipeline;
pub mod projection;
pub mod retry;
pub mod time;

pub use book::{Book, Chapter};
pub use event::{CloudEvent, DocumentEvent, EventError, Expected, NewEvent};
pub use ids::{DocumentId, EventId};
pub use job::{Job, JobState, NewJob};
pub use pipeline::Pipeline;
pub use projection::{DocumentState, DocumentStatus, Progress};
