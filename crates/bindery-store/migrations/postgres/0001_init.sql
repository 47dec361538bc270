-- Bindery's schema on PostgreSQL. Times are milliseconds since the Unix epoch.

-- The append-only event log. `sequence` is assigned from the single row of
-- `event_sequence`, whose row lock is held from assignment to commit: that
-- makes commit order equal sequence order, so a reader following
-- `sequence > n` never skips an event that commits late. See ARCHITECTURE.md.
CREATE TABLE events (
    sequence       BIGINT  PRIMARY KEY,
    stream         TEXT    NOT NULL,
    version        BIGINT  NOT NULL,
    id             TEXT    NOT NULL UNIQUE,
    type           TEXT    NOT NULL,
    data           JSONB   NOT NULL,
    time_ms        BIGINT  NOT NULL,
    correlation_id TEXT,
    causation_id   TEXT,
    UNIQUE (stream, version)
);

CREATE TABLE event_sequence (
    one  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    last BIGINT  NOT NULL
);
INSERT INTO event_sequence (one, last) VALUES (TRUE, 0);

CREATE TABLE jobs (
    id           BIGSERIAL PRIMARY KEY,
    queue        TEXT     NOT NULL,
    kind         TEXT     NOT NULL,
    document     TEXT,
    payload      JSONB    NOT NULL,
    priority     SMALLINT NOT NULL DEFAULT 0,
    state        TEXT     NOT NULL,
    attempt      INTEGER  NOT NULL DEFAULT 0,
    max_attempts INTEGER  NOT NULL,
    run_at       BIGINT   NOT NULL,
    lease_until  BIGINT,
    worker       TEXT,
    unique_key   TEXT UNIQUE,
    last_error   TEXT,
    created_at   BIGINT   NOT NULL,
    updated_at   BIGINT   NOT NULL
);
CREATE INDEX jobs_fetch    ON jobs (priority, run_at, id) WHERE state = 'available';
CREATE INDEX jobs_running  ON jobs (queue, lease_until) WHERE state = 'running';
CREATE INDEX jobs_document ON jobs (document) WHERE document IS NOT NULL;
CREATE INDEX jobs_state    ON jobs (state, id);

CREATE TABLE queues (
    name        TEXT PRIMARY KEY,
    max_running INTEGER
);

CREATE TABLE documents (
    id         TEXT   PRIMARY KEY,
    status     TEXT   NOT NULL,
    version    BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    state      JSONB  NOT NULL
);

CREATE TABLE cursors (
    name       TEXT   PRIMARY KEY,
    sequence   BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    holder     TEXT,
    lease_until BIGINT
);
