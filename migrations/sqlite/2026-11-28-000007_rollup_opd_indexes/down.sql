DROP INDEX rollup_monthly_opd_idx;
DROP INDEX rollup_daily_opd_idx;
