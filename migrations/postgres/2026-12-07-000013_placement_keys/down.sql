ALTER TABLE findings
    DROP CONSTRAINT findings_placement_fkey,
    ADD CONSTRAINT findings_assignment_id_fkey FOREIGN KEY (assignment_id) REFERENCES official_assignments (id),
    ADD CONSTRAINT findings_official_id_fkey FOREIGN KEY (official_id) REFERENCES officials (id),
    ADD CONSTRAINT findings_official_opd_id_fkey FOREIGN KEY (official_opd_id) REFERENCES opds (id);

ALTER TABLE attendance
    DROP CONSTRAINT attendance_placement_fkey,
    ADD CONSTRAINT attendance_assignment_id_fkey FOREIGN KEY (assignment_id) REFERENCES official_assignments (id),
    ADD CONSTRAINT attendance_official_id_fkey FOREIGN KEY (official_id) REFERENCES officials (id),
    ADD CONSTRAINT attendance_opd_id_fkey FOREIGN KEY (opd_id) REFERENCES opds (id);

ALTER TABLE official_assignments DROP CONSTRAINT official_assignments_placement_key;
