//! Idempotency-Key records on SQLite. A claim is one `BEGIN IMMEDIATE`
//! transaction, so two concurrent claims of one key are serialised by the
//! write lock and exactly one of them wins.

use super::SqliteStore;
use crate::{Idempotency, IdempotencyClaim, Result, StoredResponse};
use async_trait::async_trait;
use bindery_core::time::Millis;

type Row = (String, Option<i64>, Option<String>, Option<Vec<u8>>, i64);

#[async_trait]
impl Idempotency for SqliteStore {
    async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Millis,
        expired_before: Millis,
        stale_before: Millis,
    ) -> Result<IdempotencyClaim> {
        let mut tx = self.begin().await?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT fingerprint, status, content_type, body, created_ms FROM idempotency_keys WHERE scope = ? AND key = ?",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let claim = match row {
            Some((fp, Some(status), content_type, body, created)) if created >= expired_before => {
                IdempotencyClaim::Completed {
                    fingerprint: fp,
                    response: StoredResponse { status: status as u16, content_type, body: body.unwrap_or_default() },
                }
            }
            Some((fp, None, _, _, created)) if created >= stale_before && created >= expired_before => {
                IdempotencyClaim::InFlight { fingerprint: fp }
            }
            _ => {
                sqlx::query(
                    "INSERT INTO idempotency_keys (scope, key, fingerprint, created_ms) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, status = NULL, \
                     content_type = NULL, body = NULL, created_ms = excluded.created_ms",
                )
                .bind(scope)
                .bind(key)
                .bind(fingerprint)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                IdempotencyClaim::Claimed
            }
        };
        tx.commit().await?;
        Ok(claim)
    }

    async fn complete_idempotency_key(&self, scope: &str, key: &str, response: &StoredResponse) -> Result<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = ?, content_type = ?, body = ? WHERE scope = ? AND key = ? \
             AND status IS NULL",
        )
        .bind(response.status as i64)
        .bind(&response.content_type)
        .bind(&response.body)
        .bind(scope)
        .bind(key)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND status IS NULL")
            .bind(scope)
            .bind(key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn prune_idempotency_keys(&self, before: Millis) -> Result<u64> {
        let r =
            sqlx::query("DELETE FROM idempotency_keys WHERE created_ms < ?").bind(before).execute(&self.writer).await?;
        Ok(r.rows_affected())
    }
}
