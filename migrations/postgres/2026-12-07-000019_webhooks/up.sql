-- Webhook subscriptions (src/db/webhooks.rs), managed by admins: where to deliver which
-- event types. secret is the signing key (whsec_…, needed in the clear to sign); during a
-- rotation the previous one still signs until previous_valid_until.
CREATE TABLE webhooks (
    id                   TEXT PRIMARY KEY,
    url                  TEXT NOT NULL,
    event_types          TEXT NOT NULL,
    description          TEXT,
    active               BOOLEAN NOT NULL,
    secret               TEXT NOT NULL,
    previous_secret      TEXT,
    previous_valid_until TIMESTAMP,
    created_by           TEXT,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);
