//! Webhook endpoints and deliveries on PostgreSQL (see `migrations/postgres/0004_webhooks.sql`).
//!
//! Any number of processes claim deliveries at once: the claim locks the rows it picks with `FOR UPDATE SKIP
//! LOCKED`, so concurrent claims take different rows instead of waiting for each other, and pushes their
//! `next_attempt_ms` to the lease end in the same statement. Recording an attempt locks the endpoint's row while it
//! counts the failure streak, so two failures racing on one endpoint both count.

use super::PgStore;
use crate::rows::{
    attempt_from_row, delivery_from_row, qualified, streak_reason, webhook_from_row, DELIVERY_COLUMNS, WEBHOOK_COLUMNS,
};
use crate::webhooks::next_columns;
use crate::{
    AttemptReport, ClaimedDelivery, DeliveryAttempt, NewDelivery, NextStep, Recorded, Result, WebhookDelivery,
    WebhookEndpoint, WebhookUpdate, Webhooks, DISABLED_BY_OWNER,
};
use async_trait::async_trait;
use bindery_core::time::Millis;
use sqlx::types::Json;
use sqlx::Row;

#[async_trait]
impl Webhooks for PgStore {
    async fn create_webhook(&self, e: &WebhookEndpoint, secret: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO webhook_endpoints (id, project, url, description, event_types, secret, enabled, \
             disabled_reason, failure_streak, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&e.id)
        .bind(&e.project)
        .bind(&e.url)
        .bind(&e.description)
        .bind(Json(&e.event_types))
        .bind(secret)
        .bind(e.enabled)
        .bind(&e.disabled_reason)
        .bind(e.failure_streak)
        .bind(e.created_ms)
        .bind(e.updated_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn webhook(&self, project: &str, id: &str) -> Result<Option<WebhookEndpoint>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints WHERE project = $1 AND id = $2");
        let row = sqlx::query(&sql).bind(project).bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| webhook_from_row!(&r)).transpose()
    }

    async fn webhooks(&self, project: &str) -> Result<Vec<WebhookEndpoint>> {
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhook_endpoints WHERE project = $1 ORDER BY created_ms, id COLLATE \"C\""
        );
        let rows = sqlx::query(&sql).bind(project).fetch_all(&self.pool).await?;
        rows.iter().map(|r| webhook_from_row!(r)).collect()
    }

    async fn update_webhook(
        &self,
        project: &str,
        id: &str,
        u: &WebhookUpdate,
        now: Millis,
    ) -> Result<Option<WebhookEndpoint>> {
        let mut tx = self.pool.begin().await?;
        let was: Option<bool> =
            sqlx::query_scalar("SELECT enabled FROM webhook_endpoints WHERE project = $1 AND id = $2 FOR UPDATE")
                .bind(project)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(was_enabled) = was else { return Ok(None) };
        // Columns on the right of SET are the old values, so `enabled` there is what it was.
        let sql = format!(
            "UPDATE webhook_endpoints SET url = COALESCE($1, url), description = COALESCE($2, description), \
             event_types = COALESCE($3, event_types), enabled = COALESCE($4, enabled), \
             disabled_reason = CASE WHEN $4 IS NULL THEN disabled_reason WHEN $4 THEN NULL \
                                    WHEN enabled THEN $5 ELSE disabled_reason END, \
             failure_streak = CASE WHEN $4 THEN 0 ELSE failure_streak END, updated_ms = $6 \
             WHERE project = $7 AND id = $8 RETURNING {WEBHOOK_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(&u.url)
            .bind(&u.description)
            .bind(u.event_types.as_ref().map(Json))
            .bind(u.enabled)
            .bind(DISABLED_BY_OWNER)
            .bind(now)
            .bind(project)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let endpoint = webhook_from_row!(&row)?;
        if u.enabled == Some(true) && !was_enabled {
            // Deliveries that waited while the endpoint was disabled are due at once.
            sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_ms = $1, updated_ms = $1 \
                 WHERE endpoint = $2 AND state = 'pending' AND next_attempt_ms > $1",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some(endpoint))
    }

    async fn delete_webhook(&self, project: &str, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM webhook_endpoints WHERE project = $1 AND id = $2")
            .bind(project)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn rotate_webhook_secret(&self, project: &str, id: &str, secret: &str, now: Millis) -> Result<bool> {
        let r = sqlx::query("UPDATE webhook_endpoints SET secret = $1, updated_ms = $2 WHERE project = $3 AND id = $4")
            .bind(secret)
            .bind(now)
            .bind(project)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn webhook_secret(&self, id: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT secret FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn enqueue_deliveries(&self, deliveries: &[NewDelivery], now: Millis) -> Result<u64> {
        if deliveries.is_empty() {
            return Ok(0);
        }
        // One statement for the whole page.
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO webhook_deliveries (endpoint, event_id, event_type, payload, state, attempts, \
             next_attempt_ms, created_ms, updated_ms) ",
        );
        q.push_values(deliveries, |mut b, d| {
            b.push_bind(&d.endpoint)
                .push_bind(&d.event_id)
                .push_bind(&d.event_type)
                .push_bind(Json(&d.payload))
                .push("'pending'")
                .push("0")
                .push_bind(d.next_attempt_ms)
                .push_bind(now)
                .push_bind(now);
        });
        q.push(" ON CONFLICT (endpoint, event_id) DO NOTHING");
        Ok(q.build().execute(&self.pool).await?.rows_affected())
    }

    async fn claim_deliveries(&self, limit: usize, lease_until: Millis, now: Millis) -> Result<Vec<ClaimedDelivery>> {
        let sql = format!(
            "WITH due AS ( \
                 SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint \
                 WHERE d.state = 'pending' AND d.next_attempt_ms <= $1 AND e.enabled \
                 ORDER BY d.next_attempt_ms, d.id LIMIT $2 FOR UPDATE OF d SKIP LOCKED) \
             UPDATE webhook_deliveries d SET next_attempt_ms = $3, updated_ms = $1 \
             FROM due, webhook_endpoints e WHERE d.id = due.id AND e.id = d.endpoint \
             RETURNING {}, e.url, e.secret",
            qualified(DELIVERY_COLUMNS, "d")
        );
        let rows = sqlx::query(&sql).bind(now).bind(limit as i64).bind(lease_until).fetch_all(&self.pool).await?;
        let mut claimed = rows
            .iter()
            .map(|row| {
                Ok(ClaimedDelivery {
                    delivery: delivery_from_row!(row)?,
                    url: row.try_get("url")?,
                    secret: row.try_get("secret")?,
                    lease_until,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|c| c.delivery.id);
        Ok(claimed)
    }

    async fn record_attempt(&self, r: &AttemptReport, now: Millis) -> Result<Recorded> {
        let (state, next_ms) = next_columns(r.next, now);
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, next_attempt_ms = $2, \
             last_status_code = $3, last_error = $4, updated_ms = $5 \
             WHERE id = $6 AND state = 'pending' AND next_attempt_ms = $7 RETURNING attempts, endpoint",
        )
        .bind(state)
        .bind(next_ms)
        .bind(r.status_code)
        .bind(&r.error)
        .bind(now)
        .bind(r.delivery)
        .bind(r.lease_until)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(Recorded::default()) };
        let attempt: i32 = row.try_get("attempts")?;
        let endpoint: String = row.try_get("endpoint")?;
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery, attempt, time_ms, status_code, error, duration_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(r.delivery)
        .bind(attempt)
        .bind(r.time_ms)
        .bind(r.status_code)
        .bind(&r.error)
        .bind(r.duration_ms)
        .execute(&mut *tx)
        .await?;
        let mut disabled = false;
        if let Some(limit) = r.disable_after {
            if r.next == NextStep::Delivered {
                sqlx::query("UPDATE webhook_endpoints SET failure_streak = 0 WHERE id = $1")
                    .bind(&endpoint)
                    .execute(&mut *tx)
                    .await?;
            } else {
                let row = sqlx::query("SELECT enabled, failure_streak FROM webhook_endpoints WHERE id = $1 FOR UPDATE")
                    .bind(&endpoint)
                    .fetch_one(&mut *tx)
                    .await?;
                let (enabled, streak): (bool, i32) = (row.try_get("enabled")?, row.try_get("failure_streak")?);
                let streak = streak + 1;
                disabled = enabled && streak >= limit;
                let reason = disabled.then(|| streak_reason(streak, r.error.as_deref()));
                sqlx::query(
                    "UPDATE webhook_endpoints SET failure_streak = $1, enabled = enabled AND NOT $2, \
                     disabled_reason = COALESCE($3, disabled_reason), \
                     updated_ms = CASE WHEN $2 THEN $4 ELSE updated_ms END WHERE id = $5",
                )
                .bind(streak)
                .bind(disabled)
                .bind(reason)
                .bind(now)
                .bind(&endpoint)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Recorded { recorded: true, attempt, disabled })
    }

    async fn delivery(&self, endpoint: &str, id: i64) -> Result<Option<WebhookDelivery>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint = $1 AND id = $2");
        let row = sqlx::query(&sql).bind(endpoint).bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| delivery_from_row!(&r)).transpose()
    }

    async fn delivery_for_event(&self, endpoint: &str, event: &str) -> Result<Option<WebhookDelivery>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint = $1 AND event_id = $2");
        let row = sqlx::query(&sql).bind(endpoint).bind(event).fetch_optional(&self.pool).await?;
        row.map(|r| delivery_from_row!(&r)).transpose()
    }

    async fn deliveries(&self, endpoint: &str, before: Option<i64>, limit: i64) -> Result<Vec<WebhookDelivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3"
        );
        let rows =
            sqlx::query(&sql).bind(endpoint).bind(before.unwrap_or(i64::MAX)).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(|r| delivery_from_row!(r)).collect()
    }

    async fn delivery_attempts(&self, delivery: i64) -> Result<Vec<DeliveryAttempt>> {
        let rows = sqlx::query(
            "SELECT attempt, time_ms, status_code, error, duration_ms FROM webhook_attempts \
             WHERE delivery = $1 ORDER BY attempt, id",
        )
        .bind(delivery)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| attempt_from_row!(r)).collect()
    }

    async fn retry_delivery(&self, endpoint: &str, id: i64, now: Millis) -> Result<Option<WebhookDelivery>> {
        let sql = format!(
            "UPDATE webhook_deliveries SET state = 'pending', next_attempt_ms = $1, updated_ms = $1 \
             WHERE endpoint = $2 AND id = $3 RETURNING {DELIVERY_COLUMNS}"
        );
        let row = sqlx::query(&sql).bind(now).bind(endpoint).bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| delivery_from_row!(&r)).transpose()
    }
}
