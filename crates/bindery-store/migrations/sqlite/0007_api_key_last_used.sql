-- When an API key was last used (Unix milliseconds, to within a minute: each
-- API process records a key's use at most once a minute); NULL until used.
ALTER TABLE api_keys ADD COLUMN last_used_ms INTEGER;
