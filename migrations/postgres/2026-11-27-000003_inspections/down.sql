DROP TABLE evidence;
DROP TABLE findings;
DROP TABLE attendance;
DROP TABLE inspections;
