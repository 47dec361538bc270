//! The book pipeline's stages, the child process that parses uploads for
//! them, and their registration (see `bindery-pipeline` for the framework).
//!
//! Invariants:
//! - Stages never touch the event log or the job queue (the framework's
//!   rule); the one database capability a stage is handed is the search
//!   index, used only by `index`.
//! - Every stage is idempotent. Outputs are content addressed, so running a
//!   stage twice (after a crash, or a lost lease) writes the same keys.
//! - Every book stage is registered in [`registry`], in one place.
//! - MuPDF reads an upload only in a child process with limits
//!   ([`sandbox`]), so a hostile file fails its document, never the worker.

pub mod book;
mod registry;
pub mod sandbox;
pub mod text;

pub use bindery_analyze::Analyzers;
pub use registry::{registry, registry_with, registry_with_options, BookOptions};
pub use sandbox::{Sandbox, SandboxOptions};
