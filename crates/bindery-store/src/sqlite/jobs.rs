//! The SQLite job queue. Claims are one `UPDATE … WHERE id IN (SELECT …)
//! RETURNING` per batch; SQLite's single writer makes the claim atomic, and
//! per-queue limits are counted inside the same write transaction, so they
//! hold across every process sharing the file.

use super::SqliteStore;
use crate::rows::{job_from_row, JOB_COLUMNS, LEASE_EXPIRED_SQL};
use crate::{JobQueue, QueueStat, RescueReport, Result, StoreError};
use async_trait::async_trait;
use bindery_core::time::Millis;
use bindery_core::{Job, JobState};
use sqlx::{Row, Sqlite, Transaction};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Notify;

#[async_trait]
impl JobQueue for SqliteStore {
    async fn claim(
        &self,
        worker: &str,
        queues: &[String],
        limit: usize,
        lease_until: Millis,
        now: Millis,
    ) -> Result<Vec<Job>> {
        let mut tx = self.begin().await?;
        let limited: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, max_running FROM queues WHERE max_running IS NOT NULL")
                .fetch_all(&mut *tx)
                .await?;
        let limited: Vec<(String, i64)> =
            limited.into_iter().filter(|(q, _)| queues.is_empty() || queues.contains(q)).collect();
        let served = json_strings(queues);
        let excluded = json_strings(limited.iter().map(|(q, _)| q));
        // Unlimited queues first, in one statement.
        let ids: String = sqlx::query_scalar(
            // `INDEXED BY`: left alone, the planner prefers `jobs_state` and
            // sorts every available job on each claim.
            "SELECT COALESCE(json_group_array(id), '[]') FROM (SELECT id FROM jobs INDEXED BY jobs_fetch \
             WHERE state = 'available' AND run_at <= ? AND orphaned = 0 \
             AND (json_array_length(?) = 0 OR queue IN (SELECT value FROM json_each(?))) \
             AND queue NOT IN (SELECT value FROM json_each(?)) ORDER BY priority, run_at, id LIMIT ?)",
        )
        .bind(now)
        .bind(&served)
        .bind(&served)
        .bind(&excluded)
        .bind(limit as i64)
        .fetch_one(&mut *tx)
        .await?;
        let mut claimed = take(&mut tx, &ids, worker, lease_until, now).await?;
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
            let n = (max - running).min(room);
            if n <= 0 {
                continue;
            }
            let ids: String = sqlx::query_scalar(
                "SELECT COALESCE(json_group_array(id), '[]') FROM (SELECT id FROM jobs INDEXED BY jobs_fetch WHERE state = 'available' \
                 AND run_at <= ? AND orphaned = 0 AND queue = ? ORDER BY priority, run_at, id LIMIT ?)",
            )
            .bind(now)
            .bind(name)
            .bind(n)
            .fetch_one(&mut *tx)
            .await?;
            claimed.extend(take(&mut tx, &ids, worker, lease_until, now).await?);
        }
        tx.commit().await?;
        claimed.sort_by_key(|j| (j.priority, j.run_at, j.id));
        Ok(claimed)
    }

    async fn heartbeat(&self, worker: &str, ids: &[i64], lease_until: Millis, now: Millis) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids_json = json_ids(ids);
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE jobs SET lease_until = ?, updated_at = ? \
             WHERE state = 'running' AND worker = ? AND id IN (SELECT value FROM json_each(?))",
        )
        .bind(lease_until)
        .bind(now)
        .bind(worker)
        .bind(&ids_json)
        .execute(&mut *tx)
        .await?;
        let held: String = sqlx::query_scalar(
            "SELECT COALESCE(json_group_array(id), '[]') FROM jobs \
             WHERE state = 'running' AND worker = ? AND id IN (SELECT value FROM json_each(?))",
        )
        .bind(worker)
        .bind(&ids_json)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let held: HashSet<i64> = serde_json::from_str::<Vec<i64>>(&held)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .into_iter()
            .collect();
        Ok(ids.iter().copied().filter(|id| !held.contains(id)).collect())
    }

    async fn rescue_expired(&self, now: Millis) -> Result<RescueReport> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "UPDATE jobs SET state = 'available', orphaned = orphaned + 1, attempt = attempt - 1, \
             last_error = {LEASE_EXPIRED_SQL}, worker = NULL, lease_until = NULL, run_at = ?, updated_at = ? \
             WHERE state = 'running' AND lease_until < ? AND orphaned = 0"
        );
        let rescued = sqlx::query(&sql).bind(now).bind(now).bind(now).execute(&mut *tx).await?.rows_affected();
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'running' AND lease_until < ?");
        let rows = sqlx::query(&sql).bind(now).fetch_all(&mut *tx).await?;
        let stopped_twice = rows.iter().map(|r| job_from_row!(r)).collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        if rescued > 0 {
            self.jobs_notify.notify_waiters();
        }
        Ok(RescueReport { rescued, stopped_twice })
    }

    async fn suspect_waiting(&self, queues: &[String], now: Millis) -> Result<bool> {
        let served = json_strings(queues);
        let any: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_suspects WHERE state = 'available' AND orphaned > 0 \
             AND run_at <= ? AND (json_array_length(?) = 0 OR queue IN (SELECT value FROM json_each(?))))",
        )
        .bind(now)
        .bind(&served)
        .bind(&served)
        .fetch_one(&self.reader)
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
        let mut tx = self.begin().await?;
        let served = json_strings(queues);
        // The best suspect whose queue has room: none of the queue's limit, or fewer running than it allows (counted
        // inside this write transaction, so the limit holds as it does for `claim`).
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT j.id FROM jobs j INDEXED BY jobs_suspects LEFT JOIN queues q ON q.name = j.queue \
             WHERE j.state = 'available' AND j.orphaned > 0 AND j.run_at <= ? \
             AND (json_array_length(?) = 0 OR j.queue IN (SELECT value FROM json_each(?))) \
             AND (q.max_running IS NULL \
                  OR q.max_running > (SELECT COUNT(*) FROM jobs r WHERE r.queue = j.queue AND r.state = 'running')) \
             ORDER BY j.priority, j.run_at, j.id LIMIT 1",
        )
        .bind(now)
        .bind(&served)
        .bind(&served)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else { return Ok(None) };
        let job = take(&mut tx, &json_ids(&[id]), worker, lease_until, now).await?.pop();
        tx.commit().await?;
        Ok(job)
    }

    async fn job(&self, id: i64) -> Result<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.reader).await?;
        row.as_ref().map(|r| job_from_row!(r)).transpose()
    }

    async fn jobs(&self, state: Option<JobState>, after_id: i64, limit: i64) -> Result<Vec<Job>> {
        // Two statements rather than `? IS NULL OR state = ?`, which no index serves.
        let rows = match state {
            Some(st) => {
                let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state = ? AND id > ? ORDER BY id LIMIT ?");
                sqlx::query(&sql).bind(st.as_str()).bind(after_id).bind(limit).fetch_all(&self.reader).await?
            }
            None => {
                let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id > ? ORDER BY id LIMIT ?");
                sqlx::query(&sql).bind(after_id).bind(limit).fetch_all(&self.reader).await?
            }
        };
        rows.iter().map(|r| job_from_row!(r)).collect()
    }

    async fn has_unfinished_jobs(&self) -> Result<bool> {
        let any: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM jobs WHERE state IN ('available', 'running'))")
                .fetch_one(&self.reader)
                .await?;
        Ok(any)
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
        let rows =
            sqlx::query("SELECT queue, state, COUNT(*) AS n FROM jobs GROUP BY queue, state ORDER BY queue, state")
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

/// Claims the jobs whose ids are in the JSON array `ids` and returns them,
/// all through one row: sqlx hands SQLite rows over one by one between
/// threads, so a batch as a single JSON value is many times cheaper.
async fn take(
    tx: &mut Transaction<'static, Sqlite>,
    ids: &str,
    worker: &str,
    lease_until: Millis,
    now: Millis,
) -> Result<Vec<Job>> {
    if ids == "[]" {
        return Ok(Vec::new());
    }
    sqlx::query(
        "UPDATE jobs SET state = 'running', attempt = attempt + 1, worker = ?, lease_until = ?, updated_at = ? \
         WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(worker)
    .bind(lease_until)
    .bind(now)
    .bind(ids)
    .execute(&mut **tx)
    .await?;
    let json: String = sqlx::query_scalar(&format!(
        "SELECT COALESCE(json_group_array(json_object({JOB_JSON})), '[]') FROM jobs WHERE id IN (SELECT value FROM json_each(?))"
    ))
    .bind(ids)
    .fetch_one(&mut **tx)
    .await?;
    serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(format!("claimed jobs: {e}")))
}

/// `json_object` arguments rendering a row as a [`Job`].
const JOB_JSON: &str = "'id', id, 'queue', queue, 'kind', kind, 'document', document, 'payload', json(payload), \
     'priority', priority, 'state', state, 'attempt', attempt, 'max_attempts', max_attempts, 'run_at', run_at, \
     'lease_until', lease_until, 'worker', worker, 'unique_key', unique_key, 'last_error', last_error, \
     'created_at', created_at, 'updated_at', updated_at, 'orphaned', orphaned";

pub(super) fn json_ids(ids: &[i64]) -> String {
    serde_json::to_string(ids).expect("ids serialise")
}

fn json_strings<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    serde_json::to_string(&items.into_iter().collect::<Vec<_>>()).expect("strings serialise")
}
