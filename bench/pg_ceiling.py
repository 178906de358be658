#!/usr/bin/env python3
"""What PostgreSQL alone does with a draft's rows on this machine: the ceiling under Sidak.

    python3 bench/pg_ceiling.py [--seconds 8] [--binary PATH]

Sets up a fresh database the way bench/peer.py does (Sidak's migrations, one OPD, ten
officials placed there), stops the server, then has `pgbench` write what a draft of the
peer workload writes — the report row, 10 attendance rows and 10 findings, each row with
Sidak's keys, checks and indexes — straight into Sidak's schema, with no application in
front: no HTTP, JSON, session lookup, validation, replay or ids-taken check, and no audit
entry. One report per transaction (as a lone report is written), and six per transaction
(the mean batch of the group commit at 16 connections), at 1 and 16 clients, `-j 1`
(pgbench, like wrk -t1, shares the two cores with the server). Prints reports/s for each.

Sidak's own figures for the same workload come from `bench/one.py postgres drafts 16 6`
(or bench/peer.py); run both in one sitting to compare.
"""
import argparse, os, re, subprocess, sys, tempfile, types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer, run as common  # noqa: E402

DRAFT = """\
INSERT INTO inspections (id, opd_id, inspector_id, status, started_at, notes, latitude, longitude, accuracy_m,
  request_hash, version, created_at, updated_at, attendance_count, findings_count)
  VALUES (:{v}, '{opd}', '{inspector}', 'draft', now()::timestamp - interval '30 minutes', repeat('n', 90),
  -6.1171, 106.1531, 8, md5(:{v}) || md5(:{v}), 1, now()::timestamp, now()::timestamp, 10, 10);
INSERT INTO attendance (id, inspection_id, official_id, status, minutes_late, assignment_id, opd_id,
  position_title, position_kind, created_at)
  SELECT gen_random_uuid()::text, :{v}, official_id, 'present', NULL, id, opd_id, position_title, position_kind,
  now()::timestamp FROM official_assignments WHERE opd_id = '{opd}';
INSERT INTO findings (id, inspection_id, official_id, category, severity, description, observed_at, source,
  request_hash, assignment_id, official_opd_id, official_position_title, official_position_kind, created_at)
  SELECT gen_random_uuid()::text, :{v}, official_id, 'idle', 'low', repeat('d', 80), now()::timestamp, 'report',
  md5(:{v}), id, opd_id, position_title, position_kind, now()::timestamp
  FROM official_assignments WHERE opd_id = '{opd}';
"""


def script(n, opd, inspector):
    """n reports in one transaction; each report's id is a fresh UUID fetched first."""
    ids = "".join(f"SELECT gen_random_uuid()::text AS r{k} \\gset\n" for k in range(n))
    body = "".join(DRAFT.format(v=f"r{k}", opd=opd, inspector=inspector) for k in range(n))
    return ids + "BEGIN;\n" + body + "END;\n"


def pgbench(url, path, clients, seconds):
    out = subprocess.run(["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "1", "-T", str(seconds),
                          "-f", path, url], check=True, capture_output=True, text=True).stdout
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=int, default=8)
    p.add_argument("--binary", default=os.path.join(common.TARGET, "release", "sidak"))
    p.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/sidak_ceiling")
    a = p.parse_args()
    args = types.SimpleNamespace(binary=a.binary, postgres=a.postgres, port=18610, seconds=a.seconds)
    s = peer.Sidak(args, "postgres", args.port)
    try:
        s.server.stop()
        who = subprocess.run(["psql", "-Atc", "SELECT id FROM users WHERE username = 'bench.inspector'", a.postgres],
                             check=True, capture_output=True, text=True).stdout.strip()
        d = tempfile.mkdtemp(prefix="pg-ceiling-")
        for per_tx in (1, 6):
            path = os.path.join(d, f"draft{per_tx}.sql")
            with open(path, "w") as f:
                f.write(script(per_tx, s.opd, who))
            for clients in (1, 16):
                tps = pgbench(a.postgres, path, clients, a.seconds)
                print(f"postgres alone: {per_tx} report(s) per transaction, {clients} clients: "
                      f"{tps * per_tx:.0f} reports/s", flush=True)
    finally:
        s.close()


if __name__ == "__main__":
    main()
