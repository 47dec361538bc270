//! The SQLite commit path: one `BEGIN IMMEDIATE` transaction applies a whole
//! [`Commit`], and waiters are woken only after it is durable.

use super::{state_of, SqliteStore};
use crate::rows::fold;
use crate::{Commit, Commits, Committed, Finish, Outcome, Result, StoreError};
use async_trait::async_trait;
use bindery_core::event::StoredEvent;
use bindery_core::time::Millis;
use bindery_core::{DocumentState, NewJob};
use sqlx::{QueryBuilder, Sqlite, Transaction};
use std::collections::BTreeSet;

type Tx = Transaction<'static, Sqlite>;

/// SQLite allows 32,766 bound parameters per statement; stay well below.
const CHUNK: usize = 500;

#[async_trait]
impl Commits for SqliteStore {
    async fn commit(&self, c: Commit, now: Millis) -> Result<Committed> {
        let mut tx = self.begin().await?;
        let mut out = Committed::default();
        finish_jobs(&mut tx, &c.finish, now).await?;
        if !c.cancel_jobs.is_empty() || !c.cancel_documents.is_empty() {
            let r = sqlx::query(
                "UPDATE jobs SET state = 'cancelled', lease_until = NULL, updated_at = ? \
                 WHERE (id IN (SELECT value FROM json_each(?)) OR document IN (SELECT value FROM json_each(?))) \
                 AND state IN ('available', 'running')",
            )
            .bind(now)
            .bind(super::jobs::json_ids(&c.cancel_jobs))
            .bind(serde_json::to_string(&c.cancel_documents).expect("ids serialise"))
            .execute(&mut *tx)
            .await?;
            out.cancelled = r.rows_affected();
        }
        for id in &c.revive {
            let r = sqlx::query(
                "UPDATE jobs SET state = 'available', attempt = 0, run_at = ?, worker = NULL, lease_until = NULL, \
                 updated_at = ? WHERE id = ? AND state IN ('dead', 'cancelled')",
            )
            .bind(now)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            out.revived += r.rows_affected();
        }
        let mut head: Option<i64> = None;
        for a in &c.appends {
            // One round trip for the head and the stream's version: with
            // sqlx every statement is a hand-off to SQLite's thread.
            let (last, current): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COALESCE(MAX(sequence), 0) FROM events), \
                        (SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = ?)",
            )
            .bind(&a.stream)
            .fetch_one(&mut *tx)
            .await?;
            if !a.expected.matches(current) {
                return Err(StoreError::Conflict { stream: a.stream.clone(), expected: a.expected, actual: current });
            }
            let first = head.unwrap_or(last) + 1;
            let appended = StoredEvent::appended(&a.stream, current, first, &a.events, now);
            head = Some(first + a.events.len() as i64 - 1);
            insert_events(&mut tx, &appended).await?;
            project(&mut tx, &a.stream, &appended).await?;
            out.events.extend(appended);
        }
        out.enqueued = insert_jobs(&mut tx, &c.enqueue, now).await?;
        let frees_limited_slot = !c.finish.is_empty()
            && sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM queues WHERE max_running IS NOT NULL)")
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        // Wake claimers for new work, and for a slot freed in a limited queue.
        if !out.enqueued.is_empty() || out.revived > 0 || frees_limited_slot {
            self.jobs_notify.notify_waiters();
        }
        if !out.events.is_empty() {
            self.events_notify.notify_waiters();
        }
        Ok(out)
    }
}

/// Inserts events in one statement: the rows travel as one JSON array.
async fn insert_events(tx: &mut Tx, events: &[StoredEvent]) -> Result<()> {
    let rows: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            serde_json::json!({"s": e.sequence, "st": e.stream, "v": e.version, "id": e.id, "t": e.ty,
                "d": e.data.to_string(), "ms": e.time_ms, "c": e.correlation_id, "ca": e.causation_id})
        })
        .collect();
    let json = serde_json::Value::Array(rows).to_string();
    sqlx::query(
        "INSERT INTO events (sequence, stream, version, id, type, data, time_ms, correlation_id, causation_id) \
         SELECT value ->> 's', value ->> 'st', value ->> 'v', value ->> 'id', value ->> 't', value ->> 'd', \
                value ->> 'ms', value ->> 'c', value ->> 'ca' FROM json_each(?)",
    )
    .bind(json)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Folds `events` into the stream's document projection, and keeps the document's blob references in step: rewritten
/// when its set of blobs changed, removed with the projection when the document is deleted.
async fn project(tx: &mut Tx, stream: &str, events: &[StoredEvent]) -> Result<()> {
    let row = sqlx::query("SELECT state FROM documents WHERE id = ?").bind(stream).fetch_optional(&mut **tx).await?;
    let current = row.as_ref().map(state_of).transpose()?;
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
            sqlx::query("DELETE FROM documents WHERE id = ?").bind(stream).execute(&mut **tx).await?;
            sqlx::query("DELETE FROM document_blobs WHERE document = ?").bind(stream).execute(&mut **tx).await?;
        }
        None => {}
    }
    Ok(())
}

/// Replaces the blob references of `document` with `keys`.
pub(super) async fn set_blob_refs(tx: &mut Tx, document: &str, keys: &BTreeSet<String>) -> Result<()> {
    sqlx::query("DELETE FROM document_blobs WHERE document = ?").bind(document).execute(&mut **tx).await?;
    sqlx::query("INSERT OR IGNORE INTO document_blobs (document, key) SELECT ?, value FROM json_each(?)")
        .bind(document)
        .bind(serde_json::to_string(keys).expect("keys serialise"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn upsert_document(tx: &mut Tx, s: &DocumentState) -> Result<()> {
    let json = serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query(
        "INSERT INTO documents (id, project, status, version, updated_ms, state) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET project = excluded.project, status = excluded.status, \
         version = excluded.version, updated_ms = excluded.updated_ms, state = excluded.state",
    )
    .bind(&s.id)
    .bind(&s.project)
    .bind(s.status.as_str())
    .bind(s.version)
    .bind(s.updated_ms)
    .bind(json)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn finish_jobs(tx: &mut Tx, finish: &[Finish], now: Millis) -> Result<()> {
    // Completions are the hot path (one per job): one statement per worker,
    // with the ids as one JSON array so the SQL text (and the prepared
    // statement) is the same whatever the batch size.
    let mut by_worker: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
    for f in finish.iter().filter(|f| f.outcome == Outcome::Completed) {
        by_worker.entry(&f.worker).or_default().push(f.job);
    }
    for (worker, ids) in by_worker {
        let json = super::jobs::json_ids(&ids);
        let done = sqlx::query(
            "UPDATE jobs SET state = 'completed', lease_until = NULL, updated_at = ? \
             WHERE state = 'running' AND worker = ? AND id IN (SELECT value FROM json_each(?))",
        )
        .bind(now)
        .bind(worker)
        .bind(&json)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if done != ids.len() as u64 {
            let lost: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?)) \
                 AND NOT (state = 'completed' AND worker = ?) ORDER BY id LIMIT 1",
            )
            .bind(&json)
            .bind(worker)
            .fetch_optional(&mut **tx)
            .await?;
            return Err(StoreError::LeaseLost(lost.unwrap_or(ids[0])));
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
            "UPDATE jobs SET state = ?, run_at = COALESCE(?, run_at), last_error = ?, attempt = MAX(attempt - ?, 0), \
             lease_until = NULL, updated_at = ? WHERE id = ? AND state = 'running' AND worker = ?",
        )
        .bind(state)
        .bind(run_at)
        .bind(error)
        .bind(refund)
        .bind(now)
        .bind(f.job)
        .bind(&f.worker)
        .execute(&mut **tx)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::LeaseLost(f.job));
        }
    }
    Ok(())
}

pub(super) async fn insert_jobs(tx: &mut Tx, jobs: &[NewJob], now: Millis) -> Result<Vec<Option<i64>>> {
    let mut ids = Vec::with_capacity(jobs.len());
    // Jobs with a unique key go one by one, because `ON CONFLICT DO NOTHING`
    // must report which of them already existed. The rest go in chunks.
    let mut plain: Vec<(usize, &NewJob)> = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        ids.push(None);
        if j.unique_key.is_none() {
            plain.push((i, j));
            continue;
        }
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (queue, kind, document, payload, priority, state, max_attempts, run_at, unique_key, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, 'available', ?, ?, ?, ?, ?) ON CONFLICT (unique_key) DO NOTHING RETURNING id",
        )
        .bind(&j.queue)
        .bind(&j.kind)
        .bind(&j.document)
        .bind(sqlx::types::Json(&j.payload))
        .bind(j.priority)
        .bind(j.max_attempts)
        .bind(j.run_at)
        .bind(&j.unique_key)
        .bind(now)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?;
        ids[i] = id;
    }
    for chunk in plain.chunks(CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO jobs (queue, kind, document, payload, priority, state, max_attempts, run_at, created_at, updated_at) ",
        );
        q.push_values(chunk, |mut b, (_, j)| {
            b.push_bind(&j.queue)
                .push_bind(&j.kind)
                .push_bind(&j.document)
                .push_bind(sqlx::types::Json(&j.payload))
                .push_bind(j.priority)
                .push_bind("available")
                .push_bind(j.max_attempts)
                .push_bind(j.run_at)
                .push_bind(now)
                .push_bind(now);
        });
        q.push(" RETURNING id");
        let mut new_ids: Vec<i64> = q.build_query_scalar().fetch_all(&mut **tx).await?;
        // Rowids of one multi-row insert are assigned in row order.
        new_ids.sort_unstable();
        for ((i, _), id) in chunk.iter().zip(new_ids) {
            ids[*i] = Some(id);
        }
    }
    Ok(ids)
}
