-- The photo store's collection and migration ask which hashes records point at.
CREATE INDEX evidence_sha256_idx ON evidence (sha256);
