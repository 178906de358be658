DROP TRIGGER acting_assignments_reference_version ON acting_assignments;
DROP TRIGGER official_assignments_reference_version ON official_assignments;
DROP TRIGGER officials_reference_version ON officials;
DROP TRIGGER opds_reference_version ON opds;
DROP FUNCTION bump_reference_version();
DROP TABLE reference_version;
