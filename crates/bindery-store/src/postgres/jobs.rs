//! The PostgreSQL job queue.
//!
//! Unlimited queues are claimed with one `FOR UPDATE SKIP LOCKED` statement,
//! so workers never wait on each other. A queue with a concurrency limit is
//! claimed in a short transaction that first locks the queue's row: claimers
//! of that queue take turns, count what is running, and take only the free
//! slots, which makes the limit hold across every worker process.

use super::PgStore;
use crate::rows::{job_from_row, JOB_COLUMNS, LEASE_EXPIRED_SQL};
use crate::{JobQueue, QueueStat, RescueReport, Result};
use async_trait::async_trait;
use bindery_core::time::Millis;
use bindery_core::{Job, JobState};
use sqlx::Row;
use std::sync::Arc;
use tokio::sync::Notify;

#[async_trait]
impl JobQueue for PgStore {
    async fn claim(
        &self,
        worker: &str,
        queues: &[String],
        limit: usize,
        lease_until: Millis,
        now: Millis,
    ) -> Result<Vec<Job>> {
        let limited: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM queues WHERE max_running IS NOT NULL AND (cardinality($1::TEXT[]) = 0 OR name = ANY($1))",
        )
        .bind(queues)
        .fetch_all(&self.pool)
        .await?;
        let sql = format!(
            "WITH next AS ( \
               SELECT id FROM jobs WHERE state = 'available' AND run_at <= $3 AND orphaned = 0 \
               AND (cardinality($4::TEXT[]) = 0 OR queue = ANY($4)) AND NOT (queue = ANY($5)) \
               ORDER BY priority, run_at, id LIMIT $6 FOR UPDATE SKIP LOCKED) \
             UPDATE jobs SET {CLAIM_SET} \
             FROM next WHERE jobs.id = next.id RETURNING {}",
            qualified_job_columns()
        );
        let rows = sqlx::query(&sql)
            .bind(worker)
            .bind(lease_until)
            .bind(now)
            .bind(queues)
            .bind(&limited)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        let mut claimed = rows.iter().map(|r| job_from_row!(r)).collect::<Result<Vec<_>>>()?;
        for name in &limited {
            let room = limit.saturating_sub(claimed.len()) as i64;
            if room == 0 {
                break;
            }
            claimed.extend(self.claim_limited(worker, name, room, lease_until, now).await?);
        }
        claimed.sort_by_key(|j| (j.priority, j.run_at, j.id));
        Ok(claimed)
    }

    async fn heartbeat(&self, worker: &str, ids: &[i64], lease_until: Millis, now: Millis) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let held: Vec<i64> = sqlx::query_scalar(
            "UPDATE jobs SET lease_until = $1, updated_at = $2 \
             WHERE id = ANY($3) AND state = 'running' AND worker = $4 RETURNING id",
        )
        .bind(lease_until)
        .bind(now)
        .bind(ids)
        .bind(worker)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.iter().copied().filter(|id| !held.contains(id)).collect())
    }

    async fn rescue_expired(&self, now: Millis) -> Result<RescueReport> {
        let sql = format!(
            "UPDATE jobs SET state = 'available', orphaned = orphaned + 1, attempt = attempt - 1, \
             last_error = {LEASE_EXPIRED_SQL}, worker = NULL, lease_until = NULL, run_at = $1, updated_at = $1 \
             WHERE state = 'running' AND lease_until < $1 AND orphaned = 0"
        );
        let rescued = sqlx::query(&sql).bind(now).execute(&self.pool).await?.rows_affected();
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'running' AND lease_until < $1");
        let rows = sqlx::query(&sql).bind(now).fetch_all(&self.pool).await?;
        let stopped_twice = rows.iter().map(|r| job_from_row!(r)).collect::<Result<Vec<_>>>()?;
        if rescued > 0 {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(super::JOBS_CHANNEL)
                .bind(&self.origin)
                .execute(&self.pool)
                .await?;
            self.jobs_notify.notify_waiters();
        }
        Ok(RescueReport { rescued, stopped_twice })
    }

    async fn suspect_waiting(&self, queues: &[String], now: Millis) -> Result<bool> {
        let any: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'available' AND orphaned > 0 AND run_at <= $1 \
             AND (cardinality($2::TEXT[]) = 0 OR queue = ANY($2)))",
        )
        .bind(now)
        .bind(queues)
        .fetch_one(&self.pool)
        .await?;
        Ok(any)
    }

    async fn claim_suspect(
        &self,
        worker: &str,
        queues: &[String],
        lease_until: Millis,
        now: Millis,
    ) -> Result<Option<Job>> {
        let mut tx = self.pool.begin().await?;
        let next: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, queue FROM jobs WHERE state = 'available' AND orphaned > 0 AND run_at <= $1 \
             AND (cardinality($2::TEXT[]) = 0 OR queue = ANY($2)) \
             ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .bind(queues)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id, queue)) = next else { return Ok(None) };
        // A full queue leaves its suspect for later (rare enough that the next suspect is not looked for).
        if queue_room(&mut tx, &queue).await?.is_some_and(|room| room <= 0) {
            return Ok(None);
        }
        let sql = format!("UPDATE jobs SET {CLAIM_SET} WHERE id = $4 RETURNING {JOB_COLUMNS}");
        let row = sqlx::query(&sql).bind(worker).bind(lease_until).bind(now).bind(id).fetch_one(&mut *tx).await?;
        let job = job_from_row!(&row)?;
        tx.commit().await?;
        Ok(Some(job))
    }

    async fn job(&self, id: i64) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(|r| job_from_row!(r)).transpose()
    }

    async fn jobs(&self, state: Option<JobState>, after_id: i64, limit: i64) -> Result<Vec<Job>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1::TEXT IS NULL OR state = $1) AND id > $2 ORDER BY id LIMIT $3"
        );
        let rows =
            sqlx::query(&sql).bind(state.map(|s| s.as_str())).bind(after_id).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(|r| job_from_row!(r)).collect()
    }

    async fn has_unfinished_jobs(&self) -> Result<bool> {
        let any: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM jobs WHERE state IN ('available', 'running'))")
                .fetch_one(&self.pool)
                .await?;
        Ok(any)
    }

    async fn set_queue_limit(&self, queue: &str, max_running: Option<i32>) -> Result<()> {
        sqlx::query(
            "INSERT INTO queues (name, max_running) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET max_running = EXCLUDED.max_running",
        )
        .bind(queue)
        .bind(max_running)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune(&self, queue: Option<&str>, before: Millis) -> Result<u64> {
        let r = sqlx::query(
            "DELETE FROM jobs WHERE state IN ('completed', 'cancelled') AND updated_at < $1 AND ($2::TEXT IS NULL OR queue = $2)",
        )
        .bind(before)
        .bind(queue)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    async fn queue_stats(&self) -> Result<Vec<QueueStat>> {
        let rows =
            sqlx::query("SELECT queue, state, COUNT(*) AS n FROM jobs GROUP BY queue, state ORDER BY queue, state")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok(QueueStat { queue: r.try_get("queue")?, state: r.try_get("state")?, count: r.try_get("n")? }))
            .collect()
    }

    fn jobs_notify(&self) -> Arc<Notify> {
        self.jobs_notify.clone()
    }
}

impl PgStore {
    async fn claim_limited(
        &self,
        worker: &str,
        queue: &str,
        room: i64,
        lease_until: Millis,
        now: Millis,
    ) -> Result<Vec<Job>> {
        let mut tx = self.pool.begin().await?;
        let Some(free) = queue_room(&mut tx, queue).await? else { return Ok(Vec::new()) };
        let take = free.min(room);
        if take <= 0 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "WITH next AS ( \
               SELECT id FROM jobs WHERE state = 'available' AND run_at <= $3 AND orphaned = 0 AND queue = $4 \
               ORDER BY priority, run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) \
             UPDATE jobs SET {CLAIM_SET} \
             FROM next WHERE jobs.id = next.id RETURNING {}",
            qualified_job_columns()
        );
        let rows = sqlx::query(&sql)
            .bind(worker)
            .bind(lease_until)
            .bind(now)
            .bind(queue)
            .bind(take)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter().map(|r| job_from_row!(r)).collect()
    }
}

/// What claiming sets, with `$1` the worker, `$2` the lease's end and `$3` now.
const CLAIM_SET: &str = "state = 'running', attempt = attempt + 1, worker = $1, lease_until = $2, updated_at = $3";

/// The free slots of `queue` under its limit, counted while holding the queue's row, so that claimers of a limited
/// queue take turns and the limit holds across workers; `None` when the queue has no limit.
async fn queue_room(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, queue: &str) -> Result<Option<i64>> {
    let max: Option<i32> = sqlx::query_scalar("SELECT max_running FROM queues WHERE name = $1 FOR UPDATE")
        .bind(queue)
        .fetch_optional(&mut **tx)
        .await?
        .flatten();
    let Some(max) = max else { return Ok(None) };
    let running: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE queue = $1 AND state = 'running'")
        .bind(queue)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Some(max as i64 - running))
}

/// `JOB_COLUMNS` prefixed with the table name, for `UPDATE … FROM` clauses
/// where a bare `id` would be ambiguous.
fn qualified_job_columns() -> String {
    JOB_COLUMNS.split(", ").map(|c| format!("jobs.{}", c.trim())).collect::<Vec<_>>().join(", ")
}
