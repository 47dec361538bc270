//! Row decoding shared by both back ends. The column lists and the decoding
//! are the same on SQLite and PostgreSQL; only the row type differs, so a
//! macro keeps one definition without a wall of generic bounds.

/// The columns every job query selects, in the order `job_from_row!` reads.
pub(crate) const JOB_COLUMNS: &str = "id, queue, kind, document, payload, priority, state, attempt, \
     max_attempts, run_at, lease_until, worker, unique_key, last_error, created_at, updated_at, orphaned";

pub(crate) const EVENT_COLUMNS: &str =
    "sequence, stream, version, id, type, data, time_ms, correlation_id, causation_id";

macro_rules! job_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let state: String = row.try_get("state")?;
        let payload: sqlx::types::Json<serde_json::Value> = row.try_get("payload")?;
        Ok::<_, $crate::StoreError>(bindery_core::Job {
            id: row.try_get("id")?,
            queue: row.try_get("queue")?,
            kind: row.try_get("kind")?,
            document: row.try_get("document")?,
            payload: payload.0,
            priority: row.try_get("priority")?,
            state: state.parse().map_err($crate::StoreError::Corrupt)?,
            attempt: row.try_get("attempt")?,
            max_attempts: row.try_get("max_attempts")?,
            run_at: row.try_get("run_at")?,
            lease_until: row.try_get("lease_until")?,
            worker: row.try_get("worker")?,
            unique_key: row.try_get("unique_key")?,
            last_error: row.try_get("last_error")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            orphaned: row.try_get("orphaned")?,
        })
    }};
}

macro_rules! event_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let data: sqlx::types::Json<serde_json::Value> = row.try_get("data")?;
        Ok::<_, $crate::StoreError>(bindery_core::event::StoredEvent {
            sequence: row.try_get("sequence")?,
            stream: row.try_get("stream")?,
            version: row.try_get("version")?,
            id: row.try_get("id")?,
            ty: row.try_get("type")?,
            data: data.0,
            time_ms: row.try_get("time_ms")?,
            correlation_id: row.try_get("correlation_id")?,
            causation_id: row.try_get("causation_id")?,
        })
    }};
}

macro_rules! hit_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        Ok::<_, $crate::StoreError>($crate::SearchHit {
            document: row.try_get("document")?,
            title: row.try_get("title")?,
            chapter: row.try_get("chapter")?,
            chapter_title: row.try_get("chapter_title")?,
            snippet: row.try_get("snippet")?,
            score: row.try_get("score")?,
        })
    }};
}

/// The columns of `users`, in the order `user_from_row!` reads.
pub(crate) const USER_COLUMNS: &str = "id, email, password_hash, admin, created_ms";

/// The columns of `api_keys` except the hash, in the order `api_key_from_row!` reads.
pub(crate) const API_KEY_COLUMNS: &str =
    "id, project, user_id, name, prefix, role, created_ms, revoked_ms, last_used_ms";

macro_rules! user_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        Ok::<_, $crate::StoreError>($crate::User {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            password_hash: row.try_get("password_hash")?,
            admin: row.try_get("admin")?,
            created_ms: row.try_get("created_ms")?,
        })
    }};
}

/// Reads `id`, `name`, `created_ms` and `analyzer`; queries joining other
/// tables select the project's columns under these names.
macro_rules! project_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        Ok::<_, $crate::StoreError>($crate::Project {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            created_ms: row.try_get("created_ms")?,
            analyzer: row.try_get("analyzer")?,
        })
    }};
}

macro_rules! api_key_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        Ok::<_, $crate::StoreError>($crate::ApiKey {
            id: row.try_get("id")?,
            project: row.try_get("project")?,
            user: row.try_get("user_id")?,
            name: row.try_get("name")?,
            prefix: row.try_get("prefix")?,
            role: $crate::rows::parse_role(row.try_get("role")?)?,
            created_ms: row.try_get("created_ms")?,
            revoked_ms: row.try_get("revoked_ms")?,
            last_used_ms: row.try_get("last_used_ms")?,
        })
    }};
}

pub(crate) use api_key_from_row;
pub(crate) use event_from_row;
pub(crate) use hit_from_row;
pub(crate) use job_from_row;
pub(crate) use project_from_row;
pub(crate) use user_from_row;

/// A role as stored (`owner`, `editor`, `viewer`); the tables' CHECK
/// constraints allow nothing else, so anything else is corruption.
pub(crate) fn parse_role(s: &str) -> Result<crate::Role, crate::StoreError> {
    crate::Role::parse(s).ok_or_else(|| crate::StoreError::Corrupt(format!("unknown role {s:?}")))
}

/// Folds freshly appended events into a document's stored state. An event
/// that does not decode is refused as corrupt, and with it the commit.
pub(crate) fn fold(
    state: Option<bindery_core::DocumentState>,
    events: &[bindery_core::event::StoredEvent],
) -> Result<Option<bindery_core::DocumentState>, crate::StoreError> {
    events
        .iter()
        .try_fold(state, bindery_core::DocumentState::apply)
        .map_err(|e| crate::StoreError::Corrupt(e.to_string()))
}

pub(crate) fn parse_state(json: &str) -> Result<bindery_core::DocumentState, crate::StoreError> {
    serde_json::from_str(json).map_err(|e| crate::StoreError::Corrupt(format!("document state: {e}")))
}

/// SQL for the message a rescued job keeps as its last error (same syntax on
/// both back ends).
pub(crate) const LEASE_EXPIRED_SQL: &str =
    "'lease expired: worker ' || COALESCE(worker, '?') || ' stopped heartbeating'";

/// Document states folded from the whole log, for `rebuild_projections`.
#[derive(Default)]
pub(crate) struct Replay(std::collections::HashMap<String, bindery_core::DocumentState>);

impl Replay {
    pub(crate) fn apply(&mut self, ev: &bindery_core::event::StoredEvent) -> Result<(), crate::StoreError> {
        if let Some(s) = fold(self.0.remove(&ev.stream), std::slice::from_ref(ev))? {
            self.0.insert(ev.stream.clone(), s);
        }
        Ok(())
    }

    pub(crate) fn states(&self) -> impl Iterator<Item = &bindery_core::DocumentState> {
        self.0.values()
    }

    pub(crate) fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

/// The columns of `webhook_endpoints` except the secret, in the order `webhook_from_row!` reads.
pub(crate) const WEBHOOK_COLUMNS: &str = "id, project, url, description, event_types, enabled, disabled_reason, \
     failure_streak, created_ms, updated_ms";

/// The columns of `webhook_deliveries`, in the order `delivery_from_row!` reads.
pub(crate) const DELIVERY_COLUMNS: &str = "id, endpoint, event_id, event_type, payload, state, attempts, \
     next_attempt_ms, last_status_code, last_error, created_ms, updated_ms";

macro_rules! webhook_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let types: sqlx::types::Json<Vec<String>> = row.try_get("event_types")?;
        Ok::<_, $crate::StoreError>($crate::WebhookEndpoint {
            id: row.try_get("id")?,
            project: row.try_get("project")?,
            url: row.try_get("url")?,
            description: row.try_get("description")?,
            event_types: types.0,
            enabled: row.try_get("enabled")?,
            disabled_reason: row.try_get("disabled_reason")?,
            failure_streak: row.try_get("failure_streak")?,
            created_ms: row.try_get("created_ms")?,
            updated_ms: row.try_get("updated_ms")?,
        })
    }};
}

macro_rules! delivery_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let payload: sqlx::types::Json<serde_json::Value> = row.try_get("payload")?;
        let state: String = row.try_get("state")?;
        Ok::<_, $crate::StoreError>($crate::WebhookDelivery {
            id: row.try_get("id")?,
            endpoint: row.try_get("endpoint")?,
            event_id: row.try_get("event_id")?,
            event_type: row.try_get("event_type")?,
            payload: payload.0,
            state: $crate::DeliveryState::parse(&state)
                .ok_or_else(|| $crate::StoreError::Corrupt(format!("unknown delivery state {state:?}")))?,
            attempts: row.try_get("attempts")?,
            next_attempt_ms: row.try_get("next_attempt_ms")?,
            last_status_code: row.try_get("last_status_code")?,
            last_error: row.try_get("last_error")?,
            created_ms: row.try_get("created_ms")?,
            updated_ms: row.try_get("updated_ms")?,
        })
    }};
}

macro_rules! attempt_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        Ok::<_, $crate::StoreError>($crate::DeliveryAttempt {
            attempt: row.try_get("attempt")?,
            time_ms: row.try_get("time_ms")?,
            status_code: row.try_get("status_code")?,
            error: row.try_get("error")?,
            duration_ms: row.try_get("duration_ms")?,
        })
    }};
}

pub(crate) use attempt_from_row;
pub(crate) use delivery_from_row;
pub(crate) use webhook_from_row;

/// The reason an endpoint is disabled with after too many failures.
pub(crate) fn streak_reason(streak: i32, last_error: Option<&str>) -> String {
    format!("disabled after {streak} failed attempts in a row; last error: {}", last_error.unwrap_or("none recorded"))
}

/// `cols` with every column prefixed by `alias.`, for queries that join tables sharing column names.
pub(crate) fn qualified(cols: &str, alias: &str) -> String {
    cols.split(", ").map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}
