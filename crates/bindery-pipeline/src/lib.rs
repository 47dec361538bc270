//! The stage framework: what a pipeline is made of, apart from any pipeline.
//!
//! A [`Stage`] is one step of work on a document; a pipeline
//! ([`bindery_core::Pipeline`]) orders stages; the [`Registry`] holds the
//! stage implementations and the pipelines a process runs, with the media
//! types each pipeline accepts. The engine depends on this crate alone, so
//! it runs any pipeline (the book's, in `bindery-stages`, or a test's) and
//! knows none.
//!
//! Invariants:
//! - Stages never touch the event log or the job queue. A stage reads the
//!   document's state and blobs, and returns its outputs; the engine turns
//!   that into events and follow-up jobs in one transaction. The one
//!   database capability a stage is handed is the search index.
//! - A stage says whether a failure is retryable or permanent
//!   ([`StageError`]); a property of the file is always permanent.
//! - Every stage a pipeline names is registered before the pipeline
//!   ([`Registry::with_pipeline`] checks it), and every media type is
//!   accepted by at most one pipeline.

mod registry;
mod stage;

pub use registry::Registry;
pub use stage::{blocking, io, ProviderStatus, References, Stage, StageContext, StageError, StageOutput};
