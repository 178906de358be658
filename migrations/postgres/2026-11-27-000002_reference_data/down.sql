DROP TABLE official_assignments;
DROP TABLE officials;
DROP TABLE opds;
DROP TABLE sync_counter;
