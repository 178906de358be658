-- Per-OPD lookups in the rollups: "did this OPD have a report in the range" becomes a short
-- index probe per OPD instead of a scan of every OPD's daily rows.
CREATE INDEX rollup_daily_opd_idx ON rollup_daily (opd_id, day);
CREATE INDEX rollup_monthly_opd_idx ON rollup_monthly (opd_id, month);
