-- On PostgreSQL this migration makes the placement an attendance row or a finding keeps one
-- foreign key (placement, official and OPD together) instead of three, because each key
-- there is a look-up under a lock per row in the one writer's transaction. SQLite checks its
-- keys in-process at little cost, and changing a constraint means rebuilding the tables
-- (and those that refer to them); its tables keep their keys, one per column.
SELECT 1;
