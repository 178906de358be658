-- Limits every server on this database shares (src/db/shared_limits.rs). Times are
-- milliseconds since 1970 by the database's clock.

-- The login throttle: one record per account (normalised username) and per client address.
CREATE TABLE login_throttle (
    kind            TEXT NOT NULL CHECK (kind IN ('account', 'address')),
    key             TEXT NOT NULL,
    failures        INTEGER NOT NULL DEFAULT 0,
    in_flight       INTEGER NOT NULL DEFAULT 0,
    in_flight_until BIGINT NOT NULL DEFAULT 0,
    lockouts        INTEGER NOT NULL DEFAULT 0,
    locked_until    BIGINT,
    last_failure    BIGINT NOT NULL DEFAULT 0,
    window_start    BIGINT NOT NULL DEFAULT 0,
    stale_at        BIGINT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX login_throttle_stale_idx ON login_throttle (stale_at);

-- API keys' request allowance: the theoretical arrival time of the next request (GCRA).
CREATE TABLE api_key_rate (
    key_id TEXT PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
    tat    BIGINT NOT NULL
);
