-- A report's counts of attendance rows and findings, kept on its row: the list of reports
-- shows them for every report of a page, and counting a page's rows on each read was most
-- of that read's cost. Written with the report and wherever its rows change.
ALTER TABLE inspections ADD COLUMN attendance_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inspections ADD COLUMN findings_count INTEGER NOT NULL DEFAULT 0;
UPDATE inspections SET
    attendance_count = (SELECT COUNT(*) FROM attendance a WHERE a.inspection_id = inspections.id),
    findings_count = (SELECT COUNT(*) FROM findings f WHERE f.inspection_id = inspections.id);
