-- Webhook deliveries (src/db/deliveries.rs): one row per event and subscription that was
-- to receive it, made by the delivery worker when it reads the outbox past its cursor
-- (webhook_fanout). status: pending (next_attempt_at says when), delivered, failed (the
-- retries ran out, the receiver refused it, or a redirect went elsewhere). The response's
-- status and first bytes, and the error, are those of the last attempt. Times in
-- milliseconds since 1970.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_seq       BIGINT NOT NULL REFERENCES webhook_events (seq),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT,
    last_attempt_at BIGINT,
    delivered_at    BIGINT,
    response_status INTEGER,
    response_body   TEXT,
    error           TEXT,
    UNIQUE (webhook_id, event_seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, event_seq DESC);

-- How far the delivery worker has read the outbox (one row, name 'deliveries').
-- It starts at the outbox's end: events from before deliveries existed had no subscriber.
CREATE TABLE webhook_fanout (
    name TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);
INSERT INTO webhook_fanout (name, seq) SELECT 'deliveries', COALESCE(MAX(seq), 0) FROM webhook_events;

-- follow_up.overdue is raised once per follow-up and due date (a reopened follow-up with a
-- new due date can fall overdue again).
CREATE TABLE webhook_overdue (
    follow_up_id TEXT NOT NULL,
    due_date     DATE NOT NULL,
    PRIMARY KEY (follow_up_id, due_date)
);

-- An endpoint that keeps failing: failing_since is the first failed attempt since its last
-- success; after three days of it the worker deactivates it and says why.
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT;
ALTER TABLE webhooks ADD COLUMN disabled_at BIGINT;
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
