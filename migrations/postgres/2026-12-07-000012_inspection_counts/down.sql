ALTER TABLE inspections DROP COLUMN findings_count;
ALTER TABLE inspections DROP COLUMN attendance_count;
