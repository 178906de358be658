-- The placement an attendance row or a finding keeps is one foreign key to the placement
-- (its id, official and OPD together) instead of three, one per column: fewer checks for
-- every row a report writes (each foreign key is a look-up under a lock, per row, in the
-- one writer's transaction), and a stronger rule — the placement must be that official's,
-- at that OPD, not just any placement, official and OPD that exist. Placements are never
-- re-pointed (a transfer is a new placement), so the key is stable.
ALTER TABLE official_assignments
    ADD CONSTRAINT official_assignments_placement_key UNIQUE (id, official_id, opd_id);

ALTER TABLE attendance
    DROP CONSTRAINT attendance_assignment_id_fkey,
    DROP CONSTRAINT attendance_official_id_fkey,
    DROP CONSTRAINT attendance_opd_id_fkey,
    ADD CONSTRAINT attendance_placement_fkey FOREIGN KEY (assignment_id, official_id, opd_id)
        REFERENCES official_assignments (id, official_id, opd_id);

-- A finding about nobody has none of the three; one about an official has all three
-- (MATCH FULL refuses a partial one).
ALTER TABLE findings
    DROP CONSTRAINT findings_assignment_id_fkey,
    DROP CONSTRAINT findings_official_id_fkey,
    DROP CONSTRAINT findings_official_opd_id_fkey,
    ADD CONSTRAINT findings_placement_fkey FOREIGN KEY (assignment_id, official_id, official_opd_id)
        REFERENCES official_assignments (id, official_id, opd_id) MATCH FULL;
