-- Webhook events, the outbox (src/db/outbox.rs): each is written in the transaction of the
-- change it describes, so an event exists if and only if its change committed. Every write
-- transaction holds the database-wide write lock (src/db/tx.rs), so seq grows in commit
-- order: a reader that has seen seq N will never later find a smaller one committed.
-- id is the event's webhook-id (the same on every delivery and retry); payload is the whole
-- body sent (type, timestamp, data); occurred_at in milliseconds since 1970.
CREATE TABLE webhook_events (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    event_type  TEXT NOT NULL CHECK (event_type IN ('inspection.submitted', 'follow_up.raised', 'follow_up.assigned', 'follow_up.decided', 'follow_up.dismissed', 'follow_up.reopened', 'follow_up.overdue', 'official.transferred', 'evidence.added')),
    subject_id  TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    payload     TEXT NOT NULL
);
CREATE INDEX webhook_events_subject ON webhook_events (subject_id);
