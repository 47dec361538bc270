-- Invitations to projects (the `Invitations` trait). An owner invites an
-- address; the account with that address accepts or declines. The address
-- need not have an account yet, so nothing here reveals whether it has one.
-- One pending invitation per (project, address): inviting again renews it.
CREATE TABLE invitations (
    id         TEXT    PRIMARY KEY,
    project    TEXT    NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    email      TEXT    NOT NULL,
    role       TEXT    NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    -- The owner who invited; kept NULL once their account is deleted.
    invited_by TEXT    REFERENCES users (id) ON DELETE SET NULL,
    created_ms BIGINT  NOT NULL,
    expires_ms BIGINT  NOT NULL,
    UNIQUE (project, email)
);
-- "My invitations" reads by address.
CREATE INDEX invitations_email ON invitations (email);
