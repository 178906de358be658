-- API keys for machines that read dashboards (wall screens, BI panels, spreadsheets).
-- Only a SHA-256 of the secret is stored (the secret carries 256 random bits, so a slow
-- hash adds nothing); `prefix` is the start of the secret, shown to tell keys apart.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('supervisor', 'viewer')),
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    created_by   TEXT REFERENCES users (id),
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
CREATE INDEX api_keys_created_idx ON api_keys (created_at, id);

-- Counts every change to what the dashboards show (submitted reports and their rollups,
-- follow-ups), in the transaction that makes it: the dashboards' ETag derives from it.
CREATE TABLE dashboard_version (
    id      INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO dashboard_version (id, version) VALUES (1, 0);
