-- Full-text search over documents' chapters (the `SearchIndex` trait).
--
-- Accents: the `unaccent` extension is used when it can be had. It ships
-- with PostgreSQL's contrib modules and is a trusted extension (PostgreSQL
-- 13+), so any role with CREATE on the database may install it; no superuser
-- is needed. It is installed into its own schema, `bindery_ext`, rather than
-- the first schema of the search path: an extension exists once per database,
-- and a store living in a per-test or per-tenant schema must not own (and,
-- when that schema is dropped, take away) what every other store relies on.
-- If the extension is already installed elsewhere, that copy is used. If it
-- cannot be installed at all, the migration still succeeds and search is
-- accent-sensitive (a NOTICE says so); stemming and everything else work.
DO $$
DECLARE
    ext_schema name;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent') THEN
        BEGIN
            CREATE SCHEMA IF NOT EXISTS bindery_ext;
            CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA bindery_ext;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'unaccent is unavailable (%): full-text search will be accent-sensitive', SQLERRM;
        END;
    END IF;
    SELECT n.nspname INTO ext_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'unaccent';

    -- One configuration per supported language, in the store's own schema:
    -- copies of the built-in ones with `unaccent` in front of the stemmer.
    -- Documents in any other language use `bindery_simple` (no stemming).
    CREATE TEXT SEARCH CONFIGURATION bindery_english (COPY = pg_catalog.english);
    CREATE TEXT SEARCH CONFIGURATION bindery_french (COPY = pg_catalog.french);
    CREATE TEXT SEARCH CONFIGURATION bindery_simple (COPY = pg_catalog.simple);
    IF ext_schema IS NOT NULL THEN
        EXECUTE format('ALTER TEXT SEARCH CONFIGURATION bindery_english ALTER MAPPING FOR hword, hword_part, word '
                       'WITH %I.unaccent, english_stem', ext_schema);
        EXECUTE format('ALTER TEXT SEARCH CONFIGURATION bindery_french ALTER MAPPING FOR hword, hword_part, word '
                       'WITH %I.unaccent, french_stem', ext_schema);
        EXECUTE format('ALTER TEXT SEARCH CONFIGURATION bindery_simple ALTER MAPPING FOR hword, hword_part, word '
                       'WITH %I.unaccent, simple', ext_schema);
    END IF;
END
$$;

CREATE TABLE search_documents (
    document TEXT PRIMARY KEY,
    language TEXT NOT NULL,
    title    TEXT NOT NULL
);

-- `config` is the document's configuration, chosen by the store from its
-- language; the `tsvector` is generated from it, with the chapter title
-- weighted above the body.
CREATE TABLE search_chapters (
    document      TEXT      NOT NULL,
    chapter       INTEGER   NOT NULL,
    chapter_title TEXT      NOT NULL,
    body          TEXT      NOT NULL,
    config        REGCONFIG NOT NULL,
    tsv           TSVECTOR  GENERATED ALWAYS AS (
        setweight(to_tsvector(config, chapter_title), 'A') || setweight(to_tsvector(config, body), 'D')
    ) STORED,
    PRIMARY KEY (document, chapter)
);
CREATE INDEX search_chapters_tsv ON search_chapters USING GIN (tsv);
