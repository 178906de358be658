-- Counting as PP 94/2021 counts (issue: the discipline rules, exactly).
--
-- 1. Attendance gains `left_early` (pulang sebelum waktunya) with its minutes.
ALTER TABLE attendance DROP CONSTRAINT attendance_status_check;
ALTER TABLE attendance ADD CONSTRAINT attendance_status_check
    CHECK (status IN ('present', 'late', 'left_early', 'absent_unexcused', 'leave', 'sick', 'official_duty'));
ALTER TABLE attendance ADD COLUMN minutes_early INTEGER
    CHECK (minutes_early IS NULL OR (status = 'left_early' AND minutes_early BETWEEN 0 AND 1440));

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
