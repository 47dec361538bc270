//! Pipeline stages and the registry that names them.
//!
//! Invariants:
//! - Stages never touch the event log or the job queue. A stage reads the
//!   document's state and blobs, and returns its outputs; the engine turns
//!   that into events and follow-up jobs in one transaction. The one
//!   database capability a stage is handed is the search index, used only
//!   by `index`.
//! - Every stage is idempotent. Outputs are content addressed, so running a
//!   stage twice (after a crash, or a lost lease) writes the same keys.
//! - Every stage is registered in [`registry`], in one place.
//! - MuPDF reads an upload only in a child process with limits
//!   ([`sandbox`]), so a hostile file fails its document, never the worker.

pub mod book;
mod registry;
pub mod sandbox;
pub mod sniff;
mod stage;
pub mod text;

pub use bindery_analyze::Analyzers;
pub use registry::{registry, registry_with, registry_with_sandbox, Registry};
pub use sandbox::{Sandbox, SandboxOptions};
pub use stage::{References, Stage, StageContext, StageError, StageOutput};
