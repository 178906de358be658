DROP TABLE rollup_official_daily;
DROP TABLE rollup_daily;
