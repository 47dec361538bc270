//! Pipeline stages and the registry that names them.
//!
//! Invariants:
//! - Stages never touch the database. A stage reads the document's state
//!   and blobs, and returns its outputs; the engine turns that into events
//!   and follow-up jobs in one transaction.
//! - Every stage is idempotent. Outputs are content addressed, so running a
//!   stage twice (after a crash, or a lost lease) writes the same keys.
//! - Every stage is registered in [`registry`], in one place.

mod registry;
mod stage;
pub mod text;

pub use registry::{registry, Registry};
pub use stage::{Stage, StageContext, StageError, StageOutput};
