//! Blob references: which live documents use which blob.
//!
//! Blobs are content addressed, so one original or one identical artifact may
//! belong to several documents (the same file uploaded to two projects). The
//! store keeps a `(document, key)` row for every blob a projection lists, in
//! the same transaction as the projection itself, so the table is never
//! behind the documents; deleting a document consults it and deletes only the
//! blobs nobody else holds. A deleted document's rows go with its projection.

use crate::Result;
use async_trait::async_trait;

#[async_trait]
pub trait BlobRefs: Send + Sync {
    /// The live documents that reference `key`, by id.
    async fn blob_holders(&self, key: &str) -> Result<Vec<String>>;
}
