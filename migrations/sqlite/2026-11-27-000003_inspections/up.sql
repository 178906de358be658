-- Inspection reports (sidak). Ids are the phone's own UUIDs; `request_hash` is the
-- canonical hash of the creating request, so a replay can be told from a conflict.
CREATE TABLE inspections (
    id              TEXT PRIMARY KEY NOT NULL,
    opd_id          TEXT NOT NULL REFERENCES opds (id),
    inspector_id    TEXT NOT NULL REFERENCES users (id),
    status          TEXT NOT NULL CHECK (status IN ('draft', 'submitted')),
    started_at      TIMESTAMP NOT NULL,
    ended_at        TIMESTAMP,
    notes           TEXT,
    latitude        REAL,
    longitude       REAL,
    accuracy_m      REAL,
    distance_m      REAL,
    within_geofence BOOLEAN,
    request_hash    TEXT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    submitted_at    TIMESTAMP,
    CHECK (ended_at IS NULL OR ended_at >= started_at),
    CHECK ((status = 'submitted') = (submitted_at IS NOT NULL))
);
CREATE INDEX inspections_started_idx ON inspections (started_at, id);
CREATE INDEX inspections_opd_idx ON inspections (opd_id, started_at);
CREATE INDEX inspections_inspector_idx ON inspections (inspector_id, started_at);

-- Who was at their desk. The placement the official held at the inspection is copied in
-- and never changes afterwards.
CREATE TABLE attendance (
    id             TEXT PRIMARY KEY NOT NULL,
    inspection_id  TEXT NOT NULL REFERENCES inspections (id),
    official_id    TEXT NOT NULL REFERENCES officials (id),
    status         TEXT NOT NULL CHECK (status IN ('present', 'late', 'absent_unexcused', 'leave', 'sick', 'official_duty')),
    minutes_late   INTEGER CHECK (minutes_late IS NULL OR (status = 'late' AND minutes_late BETWEEN 0 AND 1440)),
    note           TEXT,
    assignment_id  TEXT NOT NULL REFERENCES official_assignments (id),
    opd_id         TEXT NOT NULL REFERENCES opds (id),
    position_title TEXT NOT NULL,
    position_kind  TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    UNIQUE (inspection_id, official_id)
);
CREATE INDEX attendance_official_idx ON attendance (official_id);

-- Findings; an `absent_unexcused` attendance row also appears here as an `absence`
-- finding (source `attendance`). Findings about an official keep the placement in force
-- when it was observed.
CREATE TABLE findings (
    id                      TEXT PRIMARY KEY NOT NULL,
    inspection_id           TEXT NOT NULL REFERENCES inspections (id),
    official_id             TEXT REFERENCES officials (id),
    category                TEXT NOT NULL CHECK (category IN ('absence', 'lateness', 'idle', 'poor_service', 'facility', 'administrative', 'integrity', 'other')),
    severity                TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    description             TEXT NOT NULL,
    observed_at             TIMESTAMP NOT NULL,
    source                  TEXT NOT NULL CHECK (source IN ('report', 'attendance')),
    attendance_id           TEXT REFERENCES attendance (id),
    request_hash            TEXT NOT NULL,
    assignment_id           TEXT REFERENCES official_assignments (id),
    official_opd_id         TEXT REFERENCES opds (id),
    official_position_title TEXT,
    official_position_kind  TEXT,
    created_at              TIMESTAMP NOT NULL,
    CHECK ((official_id IS NULL) = (assignment_id IS NULL))
);
CREATE INDEX findings_inspection_idx ON findings (inspection_id);
CREATE INDEX findings_official_idx ON findings (official_id, observed_at);

-- Photo evidence; the bytes live content-addressed under the data directory.
CREATE TABLE evidence (
    id            TEXT PRIMARY KEY NOT NULL,
    inspection_id TEXT NOT NULL REFERENCES inspections (id),
    finding_id    TEXT REFERENCES findings (id),
    sha256        TEXT NOT NULL CHECK (length(sha256) = 64),
    content_type  TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    size_bytes    BIGINT NOT NULL,
    captured_at   TIMESTAMP,
    latitude      REAL,
    longitude     REAL,
    uploaded_by   TEXT NOT NULL REFERENCES users (id),
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX evidence_inspection_idx ON evidence (inspection_id);
