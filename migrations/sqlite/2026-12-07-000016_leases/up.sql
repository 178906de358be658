-- Work that one server of several does at a time (src/db/leases.rs): the holder and until
-- when, in milliseconds since 1970 by the database's clock.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
