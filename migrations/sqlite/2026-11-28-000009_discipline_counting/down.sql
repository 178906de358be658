DROP TABLE holidays;
ALTER TABLE opds DROP COLUMN work_week;
ALTER TABLE findings DROP COLUMN excuse_reason;
ALTER TABLE findings DROP COLUMN excused_by;
ALTER TABLE findings DROP COLUMN excused_at;
ALTER TABLE findings DROP COLUMN unexcused;
DELETE FROM attendance WHERE status = 'left_early';
CREATE TABLE attendance_old (
    id             TEXT PRIMARY KEY NOT NULL,
    inspection_id  TEXT NOT NULL REFERENCES inspections (id),
    official_id    TEXT NOT NULL REFERENCES officials (id),
    status         TEXT NOT NULL CHECK (status IN ('present', 'late', 'absent_unexcused', 'leave', 'sick', 'official_duty')),
    minutes_late   INTEGER CHECK (minutes_late IS NULL OR (status = 'late' AND minutes_late BETWEEN 0 AND 1440)),
    note           TEXT,
    assignment_id  TEXT NOT NULL REFERENCES official_assignments (id),
    opd_id         TEXT NOT NULL REFERENCES opds (id),
    position_title TEXT NOT NULL,
    position_kind  TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    UNIQUE (inspection_id, official_id)
);
INSERT INTO attendance_old SELECT id, inspection_id, official_id, status, minutes_late, note,
       assignment_id, opd_id, position_title, position_kind, created_at FROM attendance;
DROP TABLE attendance;
ALTER TABLE attendance_old RENAME TO attendance;
CREATE INDEX attendance_official_idx ON attendance (official_id);
