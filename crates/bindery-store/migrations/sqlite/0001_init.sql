-- Bindery's schema on SQLite. Times are milliseconds since the Unix epoch.

-- The append-only event log. `sequence` is the global order (the rowid, so
-- appends are cheap); (stream, version) is unique, which is what makes a
-- concurrent append with a stale expected version fail.
CREATE TABLE events (
    sequence       INTEGER PRIMARY KEY,
    stream         TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    id             TEXT    NOT NULL UNIQUE,
    type           TEXT    NOT NULL,
    data           TEXT    NOT NULL,
    time_ms        INTEGER NOT NULL,
    correlation_id TEXT,
    causation_id   TEXT
);
CREATE UNIQUE INDEX events_stream_version ON events (stream, version);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    queue        TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    document     TEXT,
    payload      TEXT    NOT NULL,
    priority     INTEGER NOT NULL DEFAULT 0,
    state        TEXT    NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at       INTEGER NOT NULL,
    lease_until  INTEGER,
    worker       TEXT,
    unique_key   TEXT UNIQUE,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX jobs_fetch    ON jobs (priority, run_at, id) WHERE state = 'available';
CREATE INDEX jobs_running  ON jobs (queue, lease_until) WHERE state = 'running';
CREATE INDEX jobs_document ON jobs (document) WHERE document IS NOT NULL;
CREATE INDEX jobs_state    ON jobs (state, id);

-- Per-queue limits on jobs running at once.
CREATE TABLE queues (
    name        TEXT PRIMARY KEY,
    max_running INTEGER
);

-- The document projection: the folded state as JSON, plus what lists filter on.
CREATE TABLE documents (
    id         TEXT PRIMARY KEY,
    status     TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    state      TEXT    NOT NULL
);

-- How far each outbox sink has delivered the log, and which process holds
-- the right to deliver it (`holder` until `lease_until`).
CREATE TABLE cursors (
    name       TEXT PRIMARY KEY,
    sequence   INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    holder     TEXT,
    lease_until INTEGER
);
