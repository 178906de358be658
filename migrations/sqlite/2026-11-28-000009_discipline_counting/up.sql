-- Counting as PP 94/2021 counts (issue: the discipline rules, exactly).
--
-- 1. Attendance gains `left_early` (pulang sebelum waktunya) with its minutes. SQLite
--    cannot widen a CHECK in place: the table is rebuilt (the migration runner turns
--    foreign keys off around the migrations and checks them before committing).
CREATE TABLE attendance_new (
    id             TEXT PRIMARY KEY NOT NULL,
    inspection_id  TEXT NOT NULL REFERENCES inspections (id),
    official_id    TEXT NOT NULL REFERENCES officials (id),
    status         TEXT NOT NULL CHECK (status IN ('present', 'late', 'left_early', 'absent_unexcused', 'leave', 'sick', 'official_duty')),
    minutes_late   INTEGER CHECK (minutes_late IS NULL OR (status = 'late' AND minutes_late BETWEEN 0 AND 1440)),
    note           TEXT,
    assignment_id  TEXT NOT NULL REFERENCES official_assignments (id),
    opd_id         TEXT NOT NULL REFERENCES opds (id),
    position_title TEXT NOT NULL,
    position_kind  TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    minutes_early  INTEGER CHECK (minutes_early IS NULL OR (status = 'left_early' AND minutes_early BETWEEN 0 AND 1440)),
    UNIQUE (inspection_id, official_id)
);
INSERT INTO attendance_new (id, inspection_id, official_id, status, minutes_late, note,
                            assignment_id, opd_id, position_title, position_kind, created_at)
SELECT id, inspection_id, official_id, status, minutes_late, note,
       assignment_id, opd_id, position_title, position_kind, created_at
FROM attendance;
DROP TABLE attendance;
ALTER TABLE attendance_new RENAME TO attendance;
CREATE INDEX attendance_official_idx ON attendance (official_id);

-- 2. Only unexcused absence counts. Absences derived from `absent_unexcused` attendance
--    are unexcused by definition; a hand-written absence finding counts only when its
--    author marked it so. A supervisor may later excuse a counted absence (a doctor's
--    note, a travel order), with a reason: it then leaves every count.
ALTER TABLE findings ADD COLUMN unexcused BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE findings SET unexcused = TRUE WHERE source = 'attendance';
ALTER TABLE findings ADD COLUMN excused_at TIMESTAMP;
ALTER TABLE findings ADD COLUMN excused_by TEXT REFERENCES users (id);
ALTER TABLE findings ADD COLUMN excuse_reason TEXT;

-- 3. Each OPD's work week (Perpres 21/2023 Pasal 7: units serving the public directly may
--    work six days or in shifts).
ALTER TABLE opds ADD COLUMN work_week TEXT NOT NULL DEFAULT 'mon_fri'
    CHECK (work_week IN ('mon_fri', 'mon_sat', 'every_day'));

-- 4. The holiday calendar kept by admins, on top of the one shipped with Sidak: a row adds
--    or renames a day, or (`cancelled`) takes a shipped or configured day back.
CREATE TABLE holidays (
    day        DATE PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('libur_nasional', 'cuti_bersama', 'libur_daerah')),
    cancelled  BOOLEAN NOT NULL,
    updated_by TEXT NOT NULL REFERENCES users (id),
    updated_at TIMESTAMP NOT NULL
);
