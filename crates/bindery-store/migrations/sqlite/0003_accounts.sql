-- Accounts, projects and credentials (the `Accounts` trait), for `bindery
-- serve`. No secret is stored: passwords only as argon2 PHC strings, refresh
-- tokens and API keys only as the SHA-256 (hex) of the secret, so a copy of
-- the database cannot be replayed against the API.
--
-- Columns naming a user are `user_id`, because `user` is a reserved word on
-- PostgreSQL and both back ends keep the same column names.

-- The store lower-cases addresses before writing or looking them up, so the
-- UNIQUE constraint makes them unique regardless of case.
CREATE TABLE users (
    id            TEXT    PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    admin         INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL
);

CREATE TABLE projects (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
);

-- Who may do what in which project. The primary key serves lookups by
-- project; `members_user` serves "the projects of this user".
CREATE TABLE members (
    project TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    PRIMARY KEY (project, user_id)
);
CREATE INDEX members_user ON members (user_id);

-- Rotating refresh tokens. Using one sets `used_ms`; all tokens rotated from
-- one login share a `family`, which is revoked as a whole when a spent token
-- is presented again (reuse detection).
CREATE TABLE refresh_tokens (
    hash       TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family     TEXT    NOT NULL,
    expires_ms INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    used_ms    INTEGER,
    revoked_ms INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_user   ON refresh_tokens (user_id);

-- API keys belong to a project and act for the user who made them, capped
-- by `role`. Revoked keys are kept (with `revoked_ms`) so lists show them.
CREATE TABLE api_keys (
    id         TEXT    PRIMARY KEY,
    hash       TEXT    NOT NULL UNIQUE,
    project    TEXT    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    prefix     TEXT    NOT NULL,
    role       TEXT    NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
CREATE INDEX api_keys_project ON api_keys (project, created_ms);

-- The project a document belongs to, copied from its state by the projection
-- (NULL for the CLI's local documents), so that a project's documents are a
-- range scan of this index in id order.
ALTER TABLE documents ADD COLUMN project TEXT;
CREATE INDEX documents_project ON documents (project, id);
