-- Full-text search over documents' chapters (the `SearchIndex` trait).
--
-- Chapters live in an ordinary table, indexed by document, so replacing or
-- removing one document's chapters is an index lookup rather than a scan of
-- the whole full-text index. `search_fts` is an external-content FTS5 index
-- over it, kept in step by the triggers below (the pattern the FTS5
-- documentation gives): `snippet()` reads the text back from
-- `search_chapters`, so nothing is stored twice.
CREATE TABLE search_documents (
    document TEXT PRIMARY KEY,
    language TEXT NOT NULL,
    title    TEXT NOT NULL
);

CREATE TABLE search_chapters (
    id            INTEGER PRIMARY KEY,
    document      TEXT    NOT NULL,
    chapter       INTEGER NOT NULL,
    chapter_title TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    UNIQUE (document, chapter)
);

-- `unicode61 remove_diacritics 2` folds case and strips accents (including
-- those on letters with several marks), so "eleve" finds "élève" in any
-- language. The document id and chapter number are stored UNINDEXED: they
-- are returned with each hit but are never matched against the query.
CREATE VIRTUAL TABLE search_fts USING fts5(
    document UNINDEXED,
    chapter UNINDEXED,
    chapter_title,
    body,
    content = 'search_chapters',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER search_chapters_ai AFTER INSERT ON search_chapters BEGIN
    INSERT INTO search_fts (rowid, document, chapter, chapter_title, body)
    VALUES (new.id, new.document, new.chapter, new.chapter_title, new.body);
END;

CREATE TRIGGER search_chapters_ad AFTER DELETE ON search_chapters BEGIN
    INSERT INTO search_fts (search_fts, rowid, document, chapter, chapter_title, body)
    VALUES ('delete', old.id, old.document, old.chapter, old.chapter_title, old.body);
END;

CREATE TRIGGER search_chapters_au AFTER UPDATE ON search_chapters BEGIN
    INSERT INTO search_fts (search_fts, rowid, document, chapter, chapter_title, body)
    VALUES ('delete', old.id, old.document, old.chapter, old.chapter_title, old.body);
    INSERT INTO search_fts (rowid, document, chapter, chapter_title, body)
    VALUES (new.id, new.document, new.chapter, new.chapter_title, new.body);
END;
