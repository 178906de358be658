DROP INDEX evidence_sha256_idx;
