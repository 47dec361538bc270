-- How many times a job's worker stopped (its lease expired) while it ran. A
-- job rescued once is a suspect: it runs again alone on its worker, so that a
-- document that kills its worker is known at its second stop and costs the
-- other documents nothing. The partial index serves the suspects' claim.
ALTER TABLE jobs ADD COLUMN orphaned INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_suspects ON jobs (priority, run_at, id) WHERE state = 'available' AND orphaned > 0;
