//! Content-addressed blob storage for Bindery.
//!
//! Documents and derived artifacts are too large to live in the job database,
//! so the engine stores them here and keeps only the returned key. Keys are
//! derived from the SHA-256 of the content, which makes writes idempotent: a
//! retried stage that produces the same bytes lands on the same object.
//! The same API runs against a local folder (development, tests, single-node
//! deployments) and any S3-compatible service, via `object_store`.

mod config;
mod error;
mod key;
mod store;
mod streaming;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::S3Options;
pub use error::BlobError;
pub use key::{content_key, validate_key, CONTENT_PREFIX, TEMP_PREFIX};
pub use store::{BlobStore, Stored};
