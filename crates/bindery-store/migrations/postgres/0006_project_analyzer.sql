-- The analyzer a project chose for enrichment, by the name the instance's
-- configuration gives it; NULL means the instance's default.
ALTER TABLE projects ADD COLUMN analyzer TEXT;
