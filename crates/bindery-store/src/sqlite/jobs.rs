//! The SQLite job queue. Claims are one `UPDATE … WHERE id IN (SELECT …)
//! RETURNING` per batch; SQLite's single writer makes the claim atomic, and
//! per-queue limits are counted inside the same write transaction, so they
//! hold across every process sharing the file.

use super::SqliteStore;
use crate::rows::{job_from_row, JOB_COLUMNS, LEASE_EXPIRED_SQL};
use crate::{JobQueue, QueueStat, RescueReport, Result};
use async_trait::async_trait;
use bindery_core::time::Millis;
use bindery_core::{Job, JobState};
use sqlx::{QueryBuilder, Row, Sqlite};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Notify;

#[async_trait]
impl JobQueue for SqliteStore {
    async fn claim(&self, worker: &str, queues: &[String], limit: usize, lease_until: Millis, now: Millis) -> Result<Vec<Job>> {
        let mut tx = self.begin().await?;
        let limited: Vec<(String, i64)> = sqlx::query_as("SELECT name, max_running FROM queues WHERE max_running IS NOT NULL")
            .fetch_all(&mut *tx)
            .await?;
        let limited: Vec<(String, i64)> =
            limited.into_iter().filter(|(q, _)| queues.is_empty() || queues.contains(q)).collect();
        let mut claimed = Vec::new();
        // Unlimited queues first, in one statement.
        {
            let mut q = QueryBuilder::<Sqlite>::new("UPDATE jobs SET state = 'running', attempt = attempt + 1, worker = ");
            q.push_bind(worker).push(", lease_until = ").push_bind(lease_until).push(", updated_at = ").push_bind(now);
            q.push(" WHERE id IN (SELECT id FROM jobs WHERE state = 'available' AND run_at <= ").push_bind(now);
            if !queues.is_empty() {
                q.push(" AND queue IN (");
                let mut sep = q.separated(", ");
                queues.iter().for_each(|name| {
                    sep.push_bind(name);
                });
                q.push(")");
            }
            if !limited.is_empty() {
                q.push(" AND queue NOT IN (");
                let mut sep = q.separated(", ");
                limited.iter().for_each(|(name, _)| {
                    sep.push_bind(name);
                });
                q.push(")");
            }
            q.push(" ORDER BY priority, run_at, id LIMIT ").push_bind(limit as i64);
            q.push(format!(") RETURNING {JOB_COLUMNS}"));
            for row in q.build().fetch_all(&mut *tx).await? {
                claimed.push(job_from_row!(&row)?);
            }
        }
        // Then each limited queue, up to its free slots.
        for (name, max) in &limited {
            let room = limit.saturating_sub(claimed.len()) as i64;
            if room == 0 {
                break;
            }
            let running: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE queue = ? AND state = 'running'")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
            let take = (max - running).min(room);
            if take <= 0 {
                continue;
            }
            let sql = format!(
                "UPDATE jobs SET state = 'running', attempt = attempt + 1, worker = ?, lease_until = ?, updated_at = ? \
                 WHERE id IN (SELECT id FROM jobs WHERE state = 'available' AND run_at <= ? AND queue = ? \
                 ORDER BY priority, run_at, id LIMIT ?) RETURNING {JOB_COLUMNS}"
            );
            let rows = sqlx::query(&sql)
                .bind(worker)
                .bind(lease_until)
                .bind(now)
                .bind(now)
                .bind(name)
                .bind(take)
                .fetch_all(&mut *tx)
                .await?;
            for row in &rows {
                claimed.push(job_from_row!(row)?);
            }
        }
        tx.commit().await?;
        claimed.sort_by_key(|j| (j.priority, j.run_at, j.id));
        Ok(claimed)
    }

    async fn heartbeat(&self, worker: &str, ids: &[i64], lease_until: Millis, now: Millis) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut held = HashSet::new();
        for chunk in ids.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new("UPDATE jobs SET lease_until = ");
            q.push_bind(lease_until).push(", updated_at = ").push_bind(now);
            q.push(" WHERE state = 'running' AND worker = ").push_bind(worker).push(" AND id IN (");
            let mut sep = q.separated(", ");
            chunk.iter().for_each(|id| {
                sep.push_bind(*id);
            });
            q.push(") RETURNING id");
            let rows: Vec<i64> = q.build_query_scalar().fetch_all(&self.writer).await?;
            held.extend(rows);
        }
        Ok(ids.iter().copied().filter(|id| !held.contains(id)).collect())
    }

    async fn rescue_expired(&self, now: Millis) -> Result<RescueReport> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "UPDATE jobs SET state = 'available', last_error = {LEASE_EXPIRED_SQL}, worker = NULL, lease_until = NULL, \
             run_at = ?, updated_at = ? WHERE state = 'running' AND lease_until < ? AND attempt < max_attempts"
        );
        let rescued = sqlx::query(&sql).bind(now).bind(now).bind(now).execute(&mut *tx).await?.rows_affected();
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'running' AND lease_until < ?");
        let rows = sqlx::query(&sql).bind(now).fetch_all(&mut *tx).await?;
        let exhausted = rows.iter().map(|r| job_from_row!(r)).collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        if rescued > 0 {
            self.jobs_notify.notify_waiters();
        }
        Ok(RescueReport { rescued, exhausted })
    }

    async fn job(&self, id: i64) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.reader).await?;
        row.as_ref().map(|r| job_from_row!(r)).transpose()
    }

    async fn jobs(&self, state: Option<JobState>, after_id: i64, limit: i64) -> Result<Vec<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE (? IS NULL OR state = ?) AND id > ? ORDER BY id LIMIT ?");
        let st = state.map(|s| s.as_str());
        let rows = sqlx::query(&sql).bind(st).bind(st).bind(after_id).bind(limit).fetch_all(&self.reader).await?;
        rows.iter().map(|r| job_from_row!(r)).collect()
    }

    async fn set_queue_limit(&self, queue: &str, max_running: Option<i32>) -> Result<()> {
        sqlx::query(
            "INSERT INTO queues (name, max_running) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET max_running = excluded.max_running",
        )
        .bind(queue)
        .bind(max_running)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn prune(&self, queue: Option<&str>, before: Millis) -> Result<u64> {
        let r = sqlx::query(
            "DELETE FROM jobs WHERE state IN ('completed', 'cancelled') AND updated_at < ? AND (? IS NULL OR queue = ?)",
        )
        .bind(before)
        .bind(queue)
        .bind(queue)
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected())
    }

    async fn queue_stats(&self) -> Result<Vec<QueueStat>> {
        let rows = sqlx::query("SELECT queue, state, COUNT(*) AS n FROM jobs GROUP BY queue, state ORDER BY queue, state")
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| Ok(QueueStat { queue: r.try_get("queue")?, state: r.try_get("state")?, count: r.try_get("n")? }))
            .collect()
    }

    fn jobs_notify(&self) -> Arc<Notify> {
        self.jobs_notify.clone()
    }
}
