//! Idempotency-Key records on PostgreSQL. A claim inserts the record if it is
//! absent (`ON CONFLICT DO NOTHING`, so of two concurrent claims exactly one
//! inserts), otherwise locks the existing row and decides under that lock
//! whether it has expired and may be taken over.

use super::PgStore;
use crate::{Idempotency, IdempotencyClaim, Result, StoredResponse};
use async_trait::async_trait;
use bindery_core::time::Millis;

type Row = (String, Option<i32>, Option<String>, Option<Vec<u8>>, i64);

#[async_trait]
impl Idempotency for PgStore {
    async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        now: Millis,
        expired_before: Millis,
        stale_before: Millis,
    ) -> Result<IdempotencyClaim> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, created_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(fingerprint)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            tx.commit().await?;
            return Ok(IdempotencyClaim::Claimed);
        }
        // The conflicting row is committed (the insert waited for it), so it is there to lock, unless its request
        // released it in between: then the key is as good as taken by whoever inserts next.
        let row: Option<Row> = sqlx::query_as(
            "SELECT fingerprint, status, content_type, body, created_ms FROM idempotency_keys \
             WHERE scope = $1 AND key = $2 FOR UPDATE",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(IdempotencyClaim::InFlight { fingerprint: fingerprint.to_owned() });
        };
        let claim = match row {
            (fp, Some(status), content_type, body, created) if created >= expired_before => {
                IdempotencyClaim::Completed {
                    fingerprint: fp,
                    response: StoredResponse { status: status as u16, content_type, body: body.unwrap_or_default() },
                }
            }
            (fp, None, _, _, created) if created >= stale_before && created >= expired_before => {
                IdempotencyClaim::InFlight { fingerprint: fp }
            }
            _ => {
                sqlx::query(
                    "UPDATE idempotency_keys SET fingerprint = $3, status = NULL, content_type = NULL, body = NULL, \
                     created_ms = $4 WHERE scope = $1 AND key = $2",
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
            "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 WHERE scope = $1 AND key = $2 \
             AND status IS NULL",
        )
        .bind(scope)
        .bind(key)
        .bind(response.status as i32)
        .bind(&response.content_type)
        .bind(&response.body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn release_idempotency_key(&self, scope: &str, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL")
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn prune_idempotency_keys(&self, before: Millis) -> Result<u64> {
        let r =
            sqlx::query("DELETE FROM idempotency_keys WHERE created_ms < $1").bind(before).execute(&self.pool).await?;
        Ok(r.rows_affected())
    }
}
