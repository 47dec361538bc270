-- Which blobs each live document references (its original and every
-- artifact), kept in the same transaction as the projection. Deleting a
-- document deletes only the blobs no other document references: the same
-- bytes uploaded to two projects are two documents sharing blobs.
CREATE TABLE document_blobs (
    document TEXT NOT NULL,
    key      TEXT NOT NULL,
    PRIMARY KEY (document, key)
);
CREATE INDEX document_blobs_key ON document_blobs (key);

INSERT OR IGNORE INTO document_blobs (document, key)
SELECT id, json_extract(state, '$.blob_key') FROM documents WHERE json_extract(state, '$.blob_key') IS NOT NULL;
INSERT OR IGNORE INTO document_blobs (document, key)
SELECT d.id, json_extract(a.value, '$.key') FROM documents d, json_each(d.state, '$.artifacts') a
WHERE json_extract(a.value, '$.key') IS NOT NULL;

-- Idempotency-Key records (the IETF httpapi draft): one per principal and
-- key. `status` is NULL while the first request is in flight; then the
-- stored response is replayed to repeats with the same fingerprint.
CREATE TABLE idempotency_keys (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    status       INTEGER,
    content_type TEXT,
    body         BLOB,
    created_ms   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_ms);
