-- Backups taken (src/db/backups.rs): by the schedule (one row per scheduled time, which is
-- what makes a scheduled backup run once however many servers share the database) or by
-- `sidak backup`. Times in milliseconds since 1970.
CREATE TABLE backup_runs (
    id          BIGSERIAL PRIMARY KEY,
    slot        TEXT UNIQUE,
    trigger     TEXT NOT NULL CHECK (trigger IN ('schedule', 'command')),
    holder      TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'failed')),
    location    TEXT,
    files       BIGINT,
    bytes       BIGINT,
    error       TEXT
);
CREATE INDEX backup_runs_finished ON backup_runs (outcome, finished_at);
