-- Follow-ups: flags on officials, reviewed by supervisors.
CREATE TABLE follow_ups (
    id           TEXT PRIMARY KEY NOT NULL,
    official_id  TEXT NOT NULL REFERENCES officials (id),
    status       TEXT NOT NULL CHECK (status IN ('open', 'in_review', 'decided', 'closed', 'dismissed')),
    source       TEXT NOT NULL CHECK (source IN ('manual', 'auto')),
    reason       TEXT NOT NULL,
    raised_by    TEXT NOT NULL REFERENCES users (id),
    assignee_id  TEXT REFERENCES users (id),
    due_date     DATE NOT NULL,
    sanction     TEXT,
    decided_by   TEXT REFERENCES users (id),
    decided_at   TIMESTAMP,
    version      BIGINT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
-- At most one open or in-review follow-up per official: new findings join it.
CREATE UNIQUE INDEX follow_ups_active_idx ON follow_ups (official_id) WHERE status IN ('open', 'in_review');
CREATE INDEX follow_ups_status_idx ON follow_ups (status, due_date);
CREATE INDEX follow_ups_created_idx ON follow_ups (created_at, id);

CREATE TABLE follow_up_findings (
    follow_up_id TEXT NOT NULL REFERENCES follow_ups (id),
    finding_id   TEXT NOT NULL REFERENCES findings (id),
    added_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (follow_up_id, finding_id)
);
CREATE INDEX follow_up_findings_finding_idx ON follow_up_findings (finding_id);

-- Every action, in order: who, when, from which state to which, and why.
CREATE TABLE follow_up_events (
    id            TEXT PRIMARY KEY NOT NULL,
    follow_up_id  TEXT NOT NULL REFERENCES follow_ups (id),
    at            TIMESTAMP NOT NULL,
    actor_id      TEXT NOT NULL REFERENCES users (id),
    action        TEXT NOT NULL,
    from_status   TEXT,
    to_status     TEXT NOT NULL,
    note          TEXT,
    sanction      TEXT,
    assignee_id   TEXT REFERENCES users (id),
    due_date      DATE
);
CREATE INDEX follow_up_events_idx ON follow_up_events (follow_up_id, at);
