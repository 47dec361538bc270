//! The PostgreSQL commit path.
//!
//! Order inside the transaction matters: jobs are settled and enqueued and
//! projections written first; the global sequence is taken and events are
//! inserted last, so the sequencer row is held only for the final inserts
//! and the commit itself.

use super::{PgStore, EVENTS_CHANNEL, JOBS_CHANNEL};
use crate::rows::{fold, EVENT_COLUMNS};
use crate::{Commit, Commits, Committed, Finish, Outcome, Result, StoreError};
use async_trait::async_trait;
use bindery_core::event::StoredEvent;
use bindery_core::time::Millis;
use bindery_core::{DocumentState, NewJob};
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use std::collections::BTreeSet;

type Tx = Transaction<'static, Postgres>;

#[async_trait]
impl Commits for PgStore {
    async fn commit(&self, c: Commit, now: Millis) -> Result<Committed> {
        let mut tx = self.pool.begin().await?;
        let mut out = Committed::default();
        finish_jobs(&mut tx, &c.finish, now).await?;
        if !c.cancel_documents.is_empty() || !c.cancel_jobs.is_empty() {
            let r = sqlx::query(
                "UPDATE jobs SET state = 'cancelled', lease_until = NULL, updated_at = $1 \
                 WHERE (document = ANY($2) OR id = ANY($3)) AND state IN ('available', 'running')",
            )
            .bind(now)
            .bind(&c.cancel_documents)
            .bind(&c.cancel_jobs)
            .execute(&mut *tx)
            .await?;
            out.cancelled = r.rows_affected();
        }
        if !c.revive.is_empty() {
            let r = sqlx::query(
                "UPDATE jobs SET state = 'available', attempt = 0, run_at = $1, worker = NULL, lease_until = NULL, \
                 updated_at = $1 WHERE id = ANY($2) AND state IN ('dead', 'cancelled')",
            )
            .bind(now)
            .bind(&c.revive)
            .execute(&mut *tx)
            .await?;
            out.revived = r.rows_affected();
        }
        // Check versions and write projections under a per-stream lock, so
        // concurrent writers of one stream get an exact conflict.
        let mut pending: Vec<StoredEvent> = Vec::new();
        for a in &c.appends {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(&a.stream)
                .execute(&mut *tx)
                .await?;
            let last_in_commit = pending.iter().filter(|e| e.stream == a.stream).map(|e| e.version).max();
            let current = match last_in_commit {
                Some(v) => v,
                None => {
                    sqlx::query_scalar::<_, i64>(
                        "SELECT COALESCE(MAX(version), 0)::BIGINT FROM events WHERE stream = $1",
                    )
                    .bind(&a.stream)
                    .fetch_one(&mut *tx)
                    .await?
                }
            };
            if !a.expected.matches(current) {
                return Err(StoreError::Conflict { stream: a.stream.clone(), expected: a.expected, actual: current });
            }
            // Sequences are assigned below, under the sequencer lock.
            let events = StoredEvent::appended(&a.stream, current, 0, &a.events, now);
            project(&mut tx, &a.stream, &events).await?;
            pending.extend(events);
        }
        out.enqueued = insert_jobs(&mut tx, &c.enqueue, now).await?;
        // Wake claimers for new work, and for a slot freed in a limited
        // queue (other workers wait for it rather than poll).
        let frees_limited_slot = !c.finish.is_empty()
            && sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM queues WHERE max_running IS NOT NULL)")
                .fetch_one(&mut *tx)
                .await?;
        let wake = !out.enqueued.is_empty() || out.revived > 0 || frees_limited_slot;
        if wake {
            sqlx::query("SELECT pg_notify($1, $2)").bind(JOBS_CHANNEL).bind(&self.origin).execute(&mut *tx).await?;
        }
        if !pending.is_empty() {
            insert_events(&mut tx, &mut pending).await?;
            sqlx::query("SELECT pg_notify($1, $2)").bind(EVENTS_CHANNEL).bind(&self.origin).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        out.events = pending;
        if wake {
            self.jobs_notify.notify_waiters();
        }
        if !out.events.is_empty() {
            self.events_notify.notify_waiters();
        }
        Ok(out)
    }
}

/// Takes `events.len()` sequences from the sequencer row (holding its lock
/// until commit) and inserts the events with them.
async fn insert_events(tx: &mut Tx, events: &mut [StoredEvent]) -> Result<()> {
    let n = events.len() as i64;
    let last: i64 = sqlx::query_scalar("UPDATE event_sequence SET last = last + $1 RETURNING last")
        .bind(n)
        .fetch_one(&mut **tx)
        .await?;
    for (i, e) in events.iter_mut().enumerate() {
        e.sequence = last - n + 1 + i as i64;
    }
    let sql = format!(
        "INSERT INTO events ({EVENT_COLUMNS}) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::JSONB[], \
         $7::BIGINT[], $8::TEXT[], $9::TEXT[])"
    );
    sqlx::query(&sql)
        .bind(events.iter().map(|e| e.sequence).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.stream.clone()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.version).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.id.clone()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.ty.clone()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| Json(e.data.clone())).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.time_ms).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.correlation_id.clone()).collect::<Vec<_>>())
        .bind(events.iter().map(|e| e.causation_id.clone()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Folds `events` into the stream's document projection, and keeps the document's blob references in step: rewritten
/// when its set of blobs changed, removed with the projection when the document is deleted.
async fn project(tx: &mut Tx, stream: &str, events: &[StoredEvent]) -> Result<()> {
    let current: Option<Json<DocumentState>> =
        sqlx::query_scalar("SELECT state FROM documents WHERE id = $1").bind(stream).fetch_optional(&mut **tx).await?;
    let current = current.map(|j| j.0);
    let before = current.as_ref().map(DocumentState::blob_keys);
    match fold(current, events)? {
        Some(state) => {
            upsert_document(tx, &state).await?;
            let after = state.blob_keys();
            if before.as_ref() != Some(&after) {
                set_blob_refs(tx, &state.id, &after).await?;
            }
        }
        None if before.is_some() => {
            sqlx::query("DELETE FROM documents WHERE id = $1").bind(stream).execute(&mut **tx).await?;
            sqlx::query("DELETE FROM document_blobs WHERE document = $1").bind(stream).execute(&mut **tx).await?;
        }
        None => {}
    }
    Ok(())
}

/// Replaces the blob references of `document` with `keys`.
pub(super) async fn set_blob_refs(tx: &mut Tx, document: &str, keys: &BTreeSet<String>) -> Result<()> {
    sqlx::query("DELETE FROM document_blobs WHERE document = $1").bind(document).execute(&mut **tx).await?;
    sqlx::query("INSERT INTO document_blobs (document, key) SELECT $1, k FROM UNNEST($2::TEXT[]) AS t (k) ON CONFLICT DO NOTHING")
        .bind(document)
        .bind(keys.iter().cloned().collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn upsert_document(tx: &mut Tx, s: &DocumentState) -> Result<()> {
    sqlx::query(
        "INSERT INTO documents (id, project, status, version, updated_ms, state) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET project = EXCLUDED.project, status = EXCLUDED.status, \
         version = EXCLUDED.version, updated_ms = EXCLUDED.updated_ms, state = EXCLUDED.state",
    )
    .bind(&s.id)
    .bind(&s.project)
    .bind(s.status.as_str())
    .bind(s.version)
    .bind(s.updated_ms)
    .bind(Json(s))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn finish_jobs(tx: &mut Tx, finish: &[Finish], now: Millis) -> Result<()> {
    let mut by_worker: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
    for f in finish.iter().filter(|f| f.outcome == Outcome::Completed) {
        by_worker.entry(&f.worker).or_default().push(f.job);
    }
    for (worker, ids) in by_worker {
        let done: Vec<i64> = sqlx::query_scalar(
            "UPDATE jobs SET state = 'completed', lease_until = NULL, updated_at = $1 \
             WHERE id = ANY($2) AND state = 'running' AND worker = $3 RETURNING id",
        )
        .bind(now)
        .bind(&ids)
        .bind(worker)
        .fetch_all(&mut **tx)
        .await?;
        if done.len() != ids.len() {
            let lost = ids.iter().find(|id| !done.contains(id)).copied().unwrap_or(ids[0]);
            return Err(StoreError::LeaseLost(lost));
        }
    }
    for f in finish.iter().filter(|f| f.outcome != Outcome::Completed) {
        // A wait gives back the attempt its claim counted.
        let (state, run_at, error, refund) = match &f.outcome {
            Outcome::Retry { run_at, error } => ("available", Some(*run_at), error, 0),
            Outcome::Wait { run_at, note } => ("available", Some(*run_at), note, 1),
            Outcome::Dead { error } => ("dead", None, error, 0),
            Outcome::Completed => unreachable!("filtered above"),
        };
        let r = sqlx::query(
            "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), last_error = $3, \
             attempt = GREATEST(attempt - $7, 0), lease_until = NULL, updated_at = $4 \
             WHERE id = $5 AND state = 'running' AND worker = $6",
        )
        .bind(state)
        .bind(run_at)
        .bind(error)
        .bind(now)
        .bind(f.job)
        .bind(&f.worker)
        .bind(refund)
        .execute(&mut **tx)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::LeaseLost(f.job));
        }
    }
    Ok(())
}

pub(super) async fn insert_jobs(tx: &mut Tx, jobs: &[NewJob], now: Millis) -> Result<Vec<Option<i64>>> {
    let mut ids = vec![None; jobs.len()];
    let (keyed, plain): (Vec<usize>, Vec<usize>) = (0..jobs.len()).partition(|i| jobs[*i].unique_key.is_some());
    for i in keyed {
        let j = &jobs[i];
        ids[i] = sqlx::query_scalar(
            "INSERT INTO jobs (queue, kind, document, payload, priority, state, max_attempts, run_at, unique_key, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'available', $6, $7, $8, $9, $9) \
             ON CONFLICT (unique_key) DO NOTHING RETURNING id",
        )
        .bind(&j.queue)
        .bind(&j.kind)
        .bind(&j.document)
        .bind(Json(&j.payload))
        .bind(j.priority)
        .bind(j.max_attempts)
        .bind(j.run_at)
        .bind(&j.unique_key)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
    }
    for chunk in plain.chunks(5000) {
        let pick = |f: &dyn Fn(&NewJob) -> String| chunk.iter().map(|i| f(&jobs[*i])).collect::<Vec<_>>();
        let mut new_ids: Vec<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (queue, kind, document, payload, priority, state, max_attempts, run_at, created_at, updated_at) \
             SELECT q, k, d, p::JSONB, pr, 'available', m, r, $8, $8 \
             FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::SMALLINT[], $6::INT[], $7::BIGINT[]) \
             AS t (q, k, d, p, pr, m, r) RETURNING id",
        )
        .bind(pick(&|j| j.queue.clone()))
        .bind(pick(&|j| j.kind.clone()))
        .bind(chunk.iter().map(|i| jobs[*i].document.clone()).collect::<Vec<_>>())
        .bind(pick(&|j| j.payload.to_string()))
        .bind(chunk.iter().map(|i| jobs[*i].priority).collect::<Vec<_>>())
        .bind(chunk.iter().map(|i| jobs[*i].max_attempts).collect::<Vec<_>>())
        .bind(chunk.iter().map(|i| jobs[*i].run_at).collect::<Vec<_>>())
        .bind(now)
        .fetch_all(&mut **tx)
        .await?;
        // Serial ids are drawn in row order within one statement.
        new_ids.sort_unstable();
        for (i, id) in chunk.iter().zip(new_ids) {
            ids[*i] = Some(id);
        }
    }
    Ok(ids)
}
