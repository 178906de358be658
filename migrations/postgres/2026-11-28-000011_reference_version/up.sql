-- The version of the reference data a report is checked against (OPDs, officials, their
-- placements and acting posts). Every change to those tables moves it on, by trigger, in
-- the transaction of the change: a report prepared outside the write lock is written only
-- when the version it was prepared at is still the current one.
CREATE TABLE reference_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO reference_version (id, version) VALUES (1, 0);

CREATE FUNCTION bump_reference_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reference_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER opds_reference_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON opds
    FOR EACH STATEMENT EXECUTE FUNCTION bump_reference_version();
CREATE TRIGGER officials_reference_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON officials
    FOR EACH STATEMENT EXECUTE FUNCTION bump_reference_version();
CREATE TRIGGER official_assignments_reference_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON official_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION bump_reference_version();
CREATE TRIGGER acting_assignments_reference_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON acting_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION bump_reference_version();
