-- One counter for every change to reference data. Each write transaction takes its
-- sequence numbers from this row, which locks it until commit: numbers are handed out in
-- commit order, so a sync cursor ("everything after N") can never skip a change that
-- commits later with a smaller number.
CREATE TABLE sync_counter (
    id       INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    last_seq BIGINT NOT NULL
);
INSERT INTO sync_counter (id, last_seq) VALUES (1, 0);

CREATE TABLE opds (
    id                TEXT PRIMARY KEY NOT NULL,
    code              TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('sekretariat', 'dinas', 'badan', 'inspektorat', 'kecamatan', 'kelurahan', 'other')),
    address           TEXT,
    latitude          REAL CHECK (latitude BETWEEN -90 AND 90),
    longitude         REAL CHECK (longitude BETWEEN -180 AND 180),
    geofence_radius_m INTEGER NOT NULL CHECK (geofence_radius_m BETWEEN 10 AND 5000),
    active            BOOLEAN NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    sync_seq          BIGINT NOT NULL UNIQUE
);

CREATE TABLE officials (
    id              TEXT PRIMARY KEY NOT NULL,
    nip             TEXT NOT NULL UNIQUE CHECK (length(nip) = 18),
    full_name       TEXT NOT NULL,
    employment_type TEXT NOT NULL CHECK (employment_type IN ('pns', 'pppk')),
    rank            TEXT,
    active          BOOLEAN NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    sync_seq        BIGINT NOT NULL UNIQUE
);

-- Placements (and transfers, mutasi): [effective_from, effective_to) in local dates; the
-- current one has no end. Rows are closed, never rewritten.
CREATE TABLE official_assignments (
    id             TEXT PRIMARY KEY NOT NULL,
    official_id    TEXT NOT NULL REFERENCES officials (id),
    opd_id         TEXT NOT NULL REFERENCES opds (id),
    position_title TEXT NOT NULL,
    position_kind  TEXT NOT NULL CHECK (position_kind IN ('jpt', 'administrator', 'pengawas', 'fungsional', 'pelaksana')),
    effective_from DATE NOT NULL,
    effective_to   DATE,
    created_at     TIMESTAMP NOT NULL,
    CHECK (effective_to IS NULL OR effective_to >= effective_from)
);
CREATE INDEX official_assignments_official_idx ON official_assignments (official_id, effective_from);
CREATE UNIQUE INDEX official_assignments_current_idx ON official_assignments (official_id) WHERE effective_to IS NULL;
CREATE INDEX official_assignments_opd_idx ON official_assignments (opd_id) WHERE effective_to IS NULL;
