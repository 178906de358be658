-- PostgreSQL only: one server owns a SQLite file and keeps these limits in memory
-- (src/db/shared_limits.rs). Kept so that both trees hold the same migrations.
SELECT 1;
