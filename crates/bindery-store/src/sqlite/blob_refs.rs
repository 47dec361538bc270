//! Blob references on SQLite (the table is written by the commit path).

use super::SqliteStore;
use crate::{BlobRefs, Result};
use async_trait::async_trait;

#[async_trait]
impl BlobRefs for SqliteStore {
    async fn blob_holders(&self, key: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT document FROM document_blobs WHERE key = ? ORDER BY document")
            .bind(key)
            .fetch_all(&self.reader)
            .await?)
    }
}
