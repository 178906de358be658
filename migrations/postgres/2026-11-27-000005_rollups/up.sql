-- Dashboard rollups, maintained in the transaction that submits a report, so that a
-- dashboard reads at most one row per local day and OPD — never the findings themselves,
-- however many there are. `day` is the local day (SIDAK_TIMEZONE) of the inspection's
-- start; only submitted reports count.
CREATE TABLE rollup_daily (
    day                   DATE NOT NULL,
    opd_id                TEXT NOT NULL REFERENCES opds (id),
    inspections           BIGINT NOT NULL,
    outside_geofence      BIGINT NOT NULL,
    attendance_checked    BIGINT NOT NULL,
    present               BIGINT NOT NULL,
    late                  BIGINT NOT NULL,
    absent_unexcused      BIGINT NOT NULL,
    f_absence             BIGINT NOT NULL,
    f_lateness            BIGINT NOT NULL,
    f_idle                BIGINT NOT NULL,
    f_poor_service        BIGINT NOT NULL,
    f_facility            BIGINT NOT NULL,
    f_administrative      BIGINT NOT NULL,
    f_integrity           BIGINT NOT NULL,
    f_other               BIGINT NOT NULL,
    s_low                 BIGINT NOT NULL,
    s_medium              BIGINT NOT NULL,
    s_high                BIGINT NOT NULL,
    s_critical            BIGINT NOT NULL,
    PRIMARY KEY (day, opd_id)
);

-- Findings per official and local day, for the repeat-offenders list.
CREATE TABLE rollup_official_daily (
    day         DATE NOT NULL,
    official_id TEXT NOT NULL REFERENCES officials (id),
    findings    BIGINT NOT NULL,
    PRIMARY KEY (day, official_id)
);

-- The same counters per month (first day) and OPD, and per day over all OPDs: a one-year
-- range reads a dozen months plus the partial months at its ends, and a daily trend one row
-- per day.
CREATE TABLE rollup_monthly (
    month                 DATE NOT NULL,
    opd_id                TEXT NOT NULL REFERENCES opds (id),
    inspections           BIGINT NOT NULL,
    outside_geofence      BIGINT NOT NULL,
    attendance_checked    BIGINT NOT NULL,
    present               BIGINT NOT NULL,
    late                  BIGINT NOT NULL,
    absent_unexcused      BIGINT NOT NULL,
    f_absence             BIGINT NOT NULL,
    f_lateness            BIGINT NOT NULL,
    f_idle                BIGINT NOT NULL,
    f_poor_service        BIGINT NOT NULL,
    f_facility            BIGINT NOT NULL,
    f_administrative      BIGINT NOT NULL,
    f_integrity           BIGINT NOT NULL,
    f_other               BIGINT NOT NULL,
    s_low                 BIGINT NOT NULL,
    s_medium              BIGINT NOT NULL,
    s_high                BIGINT NOT NULL,
    s_critical            BIGINT NOT NULL,
    PRIMARY KEY (month, opd_id)
);

CREATE TABLE rollup_day_total (
    day                   DATE NOT NULL PRIMARY KEY,
    inspections           BIGINT NOT NULL,
    outside_geofence      BIGINT NOT NULL,
    attendance_checked    BIGINT NOT NULL,
    present               BIGINT NOT NULL,
    late                  BIGINT NOT NULL,
    absent_unexcused      BIGINT NOT NULL,
    f_absence             BIGINT NOT NULL,
    f_lateness            BIGINT NOT NULL,
    f_idle                BIGINT NOT NULL,
    f_poor_service        BIGINT NOT NULL,
    f_facility            BIGINT NOT NULL,
    f_administrative      BIGINT NOT NULL,
    f_integrity           BIGINT NOT NULL,
    f_other               BIGINT NOT NULL,
    s_low                 BIGINT NOT NULL,
    s_medium              BIGINT NOT NULL,
    s_high                BIGINT NOT NULL,
    s_critical            BIGINT NOT NULL
);

CREATE TABLE rollup_official_monthly (
    month       DATE NOT NULL,
    official_id TEXT NOT NULL REFERENCES officials (id),
    findings    BIGINT NOT NULL,
    PRIMARY KEY (month, official_id)
);
