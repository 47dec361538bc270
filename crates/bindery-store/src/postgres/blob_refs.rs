//! Blob references on PostgreSQL (the table is written by the commit path).

use super::PgStore;
use crate::{BlobRefs, Result};
use async_trait::async_trait;

#[async_trait]
impl BlobRefs for PgStore {
    async fn blob_holders(&self, key: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT document FROM document_blobs WHERE key = $1 ORDER BY document")
            .bind(key)
            .fetch_all(&self.pool)
            .await?)
    }
}
