-- Who may impose a sanction, and the positions it depends on (issue: the discipline rules,
-- exactly — competent official and positions).
--
-- 1. A placement in a functional position may carry its grade (jenjang); only a functional
--    position carries one.
ALTER TABLE official_assignments ADD COLUMN jf_grade TEXT
    CHECK (jf_grade IS NULL OR (position_kind = 'fungsional' AND jf_grade IN
        ('ahli_utama', 'ahli_madya', 'ahli_muda', 'ahli_pertama', 'penyelia', 'mahir', 'terampil', 'pemula')));

-- 2. Acting posts (Plt, Plh) held beside the definitive placement: [effective_from,
--    effective_to) in local dates; closed, never rewritten.
CREATE TABLE acting_assignments (
    id             TEXT PRIMARY KEY NOT NULL,
    official_id    TEXT NOT NULL REFERENCES officials (id),
    kind           TEXT NOT NULL CHECK (kind IN ('plt', 'plh')),
    opd_id         TEXT NOT NULL REFERENCES opds (id),
    position_title TEXT NOT NULL,
    position_kind  TEXT NOT NULL CHECK (position_kind IN ('jpt', 'administrator', 'pengawas', 'fungsional', 'pelaksana')),
    effective_from DATE NOT NULL,
    effective_to   DATE,
    created_by     TEXT REFERENCES users (id),
    created_at     TIMESTAMP NOT NULL,
    CHECK (effective_to IS NULL OR effective_to > effective_from)
);
CREATE INDEX acting_assignments_official_idx ON acting_assignments (official_id, effective_from);

-- 3. Findings keep the grade and the acting post the official held when observed.
ALTER TABLE findings ADD COLUMN official_jf_grade TEXT;
ALTER TABLE findings ADD COLUMN acting_assignment_id TEXT REFERENCES acting_assignments (id);
ALTER TABLE findings ADD COLUMN acting_kind TEXT;
ALTER TABLE findings ADD COLUMN acting_opd_id TEXT;
ALTER TABLE findings ADD COLUMN acting_position_title TEXT;
ALTER TABLE findings ADD COLUMN acting_position_kind TEXT;

-- 4. A decision records the decree (surat keputusan) that imposed it: required for a
--    berat sanction.
ALTER TABLE follow_ups ADD COLUMN decree_number TEXT;
ALTER TABLE follow_ups ADD COLUMN decree_date DATE;
ALTER TABLE follow_up_events ADD COLUMN decree_number TEXT;
ALTER TABLE follow_up_events ADD COLUMN decree_date DATE;
