-- Old events and finished deliveries are removed after SIDAK_WEBHOOK_RETENTION_DAYS
-- (src/db/deliveries.rs, prune): found by when the event happened, and by event.
CREATE INDEX webhook_events_occurred ON webhook_events (occurred_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);
