DROP TABLE holidays;
ALTER TABLE opds DROP COLUMN work_week;
ALTER TABLE findings DROP COLUMN excuse_reason;
ALTER TABLE findings DROP COLUMN excused_by;
ALTER TABLE findings DROP COLUMN excused_at;
ALTER TABLE findings DROP COLUMN unexcused;
DELETE FROM attendance WHERE status = 'left_early';
ALTER TABLE attendance DROP COLUMN minutes_early;
ALTER TABLE attendance DROP CONSTRAINT attendance_status_check;
ALTER TABLE attendance ADD CONSTRAINT attendance_status_check
    CHECK (status IN ('present', 'late', 'absent_unexcused', 'leave', 'sick', 'official_duty'));
