DROP TABLE rollup_official_monthly;
DROP TABLE rollup_day_total;
DROP TABLE rollup_monthly;
DROP TABLE rollup_official_daily;
DROP TABLE rollup_daily;
