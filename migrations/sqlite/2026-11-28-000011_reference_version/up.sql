-- The version of the reference data a report is checked against (OPDs, officials, their
-- placements and acting posts). Every change to those tables moves it on, by trigger, in
-- the transaction of the change: a report prepared outside the write lock is written only
-- when the version it was prepared at is still the current one.
CREATE TABLE reference_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO reference_version (id, version) VALUES (1, 0);

CREATE TRIGGER opds_insert_reference_version AFTER INSERT ON opds
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER opds_update_reference_version AFTER UPDATE ON opds
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER opds_delete_reference_version AFTER DELETE ON opds
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER officials_insert_reference_version AFTER INSERT ON officials
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER officials_update_reference_version AFTER UPDATE ON officials
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER officials_delete_reference_version AFTER DELETE ON officials
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER official_assignments_insert_reference_version AFTER INSERT ON official_assignments
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER official_assignments_update_reference_version AFTER UPDATE ON official_assignments
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER official_assignments_delete_reference_version AFTER DELETE ON official_assignments
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER acting_assignments_insert_reference_version AFTER INSERT ON acting_assignments
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER acting_assignments_update_reference_version AFTER UPDATE ON acting_assignments
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;

CREATE TRIGGER acting_assignments_delete_reference_version AFTER DELETE ON acting_assignments
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
END;
