ALTER TABLE webhooks DROP COLUMN disabled_reason;
ALTER TABLE webhooks DROP COLUMN disabled_at;
ALTER TABLE webhooks DROP COLUMN failing_since;
DROP TABLE webhook_overdue;
DROP TABLE webhook_fanout;
DROP TABLE webhook_deliveries;
