DROP TABLE follow_up_events;
DROP TABLE follow_up_findings;
DROP TABLE follow_ups;
