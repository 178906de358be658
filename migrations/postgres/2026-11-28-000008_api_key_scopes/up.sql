-- What a key may read, by scope name (comma-separated, see src/auth/api_key.rs). Keys made
-- before scopes existed are narrowed to the dashboards and OPD labels; an admin makes a new
-- key for anything wider.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'dashboards';
