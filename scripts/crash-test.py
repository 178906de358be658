#!/usr/bin/env python3
"""Crash safety: kill -9 the server while phones write reports and photos, then check that
nothing acknowledged was lost or altered and that retries create nothing twice.

Starts the release binary on a fresh database (SQLite in a temporary folder, or the
PostgreSQL database named by --postgres, which is dropped and created; PostgreSQL itself
stays up, only the API server is killed). Several writer threads act like phones: each
report is created as a draft (`POST /api/v1/inspections`), gets one photo
(`POST /api/v1/inspections/{id}/evidence`) and is submitted; a request that gets no answer is
sent again, unchanged, until it is answered, as the phone's outbox does. Meanwhile the server
is killed with SIGKILL at random moments and restarted. At the end:

- every acknowledged (2xx) report is there, submitted, with the attendance, findings and
  notes that were sent, and its photo's bytes have the acknowledged SHA-256;
- the server holds exactly the reports that were sent (each once), the dashboard counts
  each report and finding once (rollups written in the same transaction), and every retry
  was answered 200/201, never 409;
- `PRAGMA integrity_check` is `ok` (SQLite), `GET /api/v1/audit/verify` is `ok`;
- after a restart no temporary file is left in `evidence/tmp` and every stored file belongs
  to a photo record (with `--s3`: every object under the run's prefix in the bucket, and no
  upload left in `evidence-uploads`).

With --backup, the data the crashes left is then backed up while the server runs
(`sidak backup`), the snapshot verified, restored into a new data directory (and, on
PostgreSQL, a new database) and served on the next port, where every check above is run
again.

    cargo build --release
    python3 scripts/crash-test.py                      # SQLite, 5 kills
    python3 scripts/crash-test.py --kills 30 --writers 8
    python3 scripts/crash-test.py --postgres postgres://postgres@127.0.0.1:5432/sidak_crash
    python3 scripts/crash-test.py --s3 http://127.0.0.1:18500   # photos in an S3 bucket
    python3 scripts/crash-test.py --backup             # then back up, restore and check again

Exit status 0 only when every check holds.
"""
import argparse, datetime, hashlib, json, os, random, shutil, sqlite3, subprocess, sys, tempfile, threading, time
import uuid

from harness import (ROOT, NoAnswer, Server, drop_postgres, get_json, multipart, png, recreate_postgres,
                     report_differences, request, s3_keys, s3_settings, server_env)

PASSWORD = "crash-password-for-all-users"
S3_BUCKET = "sidak-crash"


class Ledger:
    """What the phones sent and what the server acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reports = {}  # id -> {"body", "photo_id", "sha256", "acked": set of steps}
        self.retries = 0
        self.unanswered = 0
        self.errors = []

    def error(self, message):
        with self.lock:
            self.errors.append(message)


def writer(n, args, token, opd, officials, ledger, stop, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        rid = str(uuid.uuid4())
        chosen = rng.sample(officials, min(3, len(officials)))
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        body = {
            "id": rid, "opd_id": opd, "started_at": (now - datetime.timedelta(minutes=30)).isoformat(),
            "notes": f"writer {n}: {rng.getrandbits(64):x}",
            "attendance": [{"id": str(uuid.uuid4()), "official_id": o, "status": rng.choice(
                ["present", "late", "absent_unexcused", "leave"])} for o in chosen],
            "findings": [{"id": str(uuid.uuid4()), "official_id": o, "category": rng.choice(
                ["absence", "idle", "poor_service", "administrative"]), "severity": rng.choice(
                ["low", "medium", "high"]), "description": f"finding {i} of {rid}"} for i, o in enumerate(chosen)],
        }
        for a in body["attendance"]:
            if a["status"] == "late":
                a["minutes_late"] = rng.randint(1, 90)
        photo = png(rng, rng.choice([64, 128, 192]))
        photo_id = str(uuid.uuid4())
        meta = {"id": photo_id, "finding_id": body["findings"][0]["id"]}
        with ledger.lock:
            ledger.reports[rid] = {"body": body, "photo_id": photo_id, "sha256": hashlib.sha256(photo).hexdigest(),
                                   "acked": set()}
        mp_body, mp_type = multipart(photo, meta)
        steps = [
            ("create", "POST", "/api/v1/inspections", body, {}, (200, 201)),
            ("photo", "POST", f"/api/v1/inspections/{rid}/evidence", mp_body, {"Content-Type": mp_type}, (200, 201)),
            ("submit", "POST", f"/api/v1/inspections/{rid}/submit", None, {}, (200,)),
        ]
        for step, method, path, payload, headers, ok in steps:
            attempts = 0
            while True:
                attempts += 1
                try:
                    status, resp, _ = request(args.port, method, path, payload, token, headers, timeout=30)
                except NoAnswer:
                    with ledger.lock:
                        ledger.unanswered += 1
                    time.sleep(0.05)
                    continue
                if attempts > 1:
                    with ledger.lock:
                        ledger.retries += 1
                if status in ok:
                    with ledger.lock:
                        ledger.reports[rid]["acked"].add(step)
                    if step == "photo" and json.loads(resp)["sha256"] != ledger.reports[rid]["sha256"]:
                        ledger.error(f"{rid}: photo acknowledged with another hash")
                    break
                if status == 503:
                    # Shutting down or the pool is not ready yet: the phone tries again later.
                    time.sleep(0.05)
                    continue
                ledger.error(f"{rid}: {step} (attempt {attempts}) answered {status}: {resp[:300]!r}")
                break


def verify(args, token, ledger, data, backend):
    failures = list(ledger.errors)
    port = args.port
    sent = ledger.reports
    # Every report the phones sent is there once, with what was sent.
    seen, cursor = [], None
    while True:
        page = get_json(port, "/api/v1/inspections?limit=200" + (f"&cursor={cursor}" if cursor else ""), token)
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    if len(seen) != len(set(seen)):
        failures.append(f"the report list repeats ids ({len(seen)} rows, {len(set(seen))} ids)")
    if set(seen) != set(sent):
        failures.append(f"reports on the server differ from those sent: missing {len(set(sent) - set(seen))}, "
                        f"unexpected {len(set(seen) - set(sent))}")
    findings = 0
    for rid, r in sent.items():
        status, raw, _ = request(port, "GET", f"/api/v1/inspections/{rid}", token=token)
        if status != 200:
            failures.append(f"{rid}: GET answered {status}")
            continue
        got = json.loads(raw)
        failures += report_differences(rid, got, r["body"])
        findings += len(got["findings"])
        ev = got["evidence"]
        if [e["id"] for e in ev] != [r["photo_id"]] or ev[0]["sha256"] != r["sha256"]:
            failures.append(f"{rid}: evidence differs: {[(e['id'], e['sha256']) for e in ev]}")
            continue
        status, content, _ = request(port, "GET", f"/api/v1/evidence/{r['photo_id']}/content", token=token)
        if status != 200 or hashlib.sha256(content).hexdigest() != r["sha256"]:
            failures.append(f"{rid}: photo bytes differ (status {status})")
    # Rollups: each report and finding counted once, however often its requests were retried.
    today = datetime.date.today()
    summary = get_json(port, f"/api/v1/dashboard/summary?from={today - datetime.timedelta(days=2)}"
                             f"&to={today + datetime.timedelta(days=1)}", token)
    attendance = sum(len(r["body"]["attendance"]) for r in sent.values())
    for key, want in [("inspections", len(sent)), ("findings", findings), ("attendance_checked", attendance)]:
        if summary.get(key) != want:
            failures.append(f"dashboard summary counts {summary.get(key)} {key}, {want} were sent")
    audit = get_json(port, "/api/v1/audit/verify", token)
    if not audit.get("ok"):
        failures.append(f"audit chain does not verify: {audit}")
    # Files: nothing left in tmp after the restart, every stored file belongs to a photo.
    if args.s3:
        tmp = os.listdir(os.path.join(data, "evidence-uploads"))
        stored = {k.rsplit("/", 1)[1] for k in s3_keys(args.s3, S3_BUCKET, args.s3_prefix)}
    else:
        root = os.path.join(data, "evidence")
        tmp = os.listdir(os.path.join(root, "tmp"))
        stored = {f for d, _, fs in os.walk(root) if not d.endswith("tmp") for f in fs}
    if tmp:
        failures.append(f"{len(tmp)} temporary files of uploads left after the restart")
    wanted = {r["sha256"] for r in sent.values()}
    if stored != wanted:
        failures.append(f"evidence files: {len(stored - wanted)} stray, {len(wanted - stored)} missing")
    return failures, findings


def backup_and_restore(args, env, data, token, ledger, backend):
    """Backs the data up while the server runs, verifies the snapshot, restores it into a
    new data directory (and database), serves it on the next port and checks it as the
    original was checked."""
    backups = os.path.join(data, "backups")
    out = subprocess.run([args.binary, "backup", "--to", backups], env=env, check=True,
                         capture_output=True, text=True).stdout
    snapshot = out.split(": ", 1)[0]
    subprocess.run([args.binary, "backup", "verify", snapshot], env=env, check=True, stdout=subprocess.DEVNULL)
    restored = os.path.join(data, "restored")
    renv = dict(env, SIDAK_DATA_DIR=restored, SIDAK_BIND=f"127.0.0.1:{args.port + 1}")
    rargs = argparse.Namespace(**vars(args))
    rargs.port = args.port + 1
    if args.postgres:
        rargs.postgres = args.postgres + "_restored"
        recreate_postgres(rargs.postgres)
        renv["DATABASE_URL"] = rargs.postgres
    else:
        renv.pop("DATABASE_URL", None)
    if args.s3:
        rargs.s3_prefix = args.s3_prefix + "-restored"
        renv.update(s3_settings(args.s3, S3_BUCKET, rargs.s3_prefix))
    os.makedirs(restored, exist_ok=True)
    summary = subprocess.run([args.binary, "restore", "--from", snapshot], env=renv, check=True,
                             capture_output=True, text=True).stdout.strip()
    server = Server(rargs, renv, restored)
    try:
        server.start()
        failures, _ = verify(rargs, token, ledger, restored, backend)
    finally:
        server.stop()
        server.log.close()
    if rargs.postgres != args.postgres:
        drop_postgres(rargs.postgres)
    print(f"{backend}: {summary}", flush=True)
    return [f"after backup and restore: {f}" for f in failures]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "sidak"))
    ap.add_argument("--postgres", default=None)
    ap.add_argument("--port", type=int, default=18290)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--writers", type=int, default=6)
    ap.add_argument("--min-interval", type=float, default=0.3, help="shortest run between kills, seconds")
    ap.add_argument("--max-interval", type=float, default=2.0, help="longest run between kills, seconds")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--s3", default=None, help="photos in a bucket of this S3-compatible endpoint")
    ap.add_argument("--backup", action="store_true",
                    help="then back up the data, restore it elsewhere and check the restored copy")
    args = ap.parse_args()
    args.s3_prefix = f"crash-{uuid.uuid4().hex}"
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)

    data = tempfile.mkdtemp(prefix="sidak-crash-")
    store = s3_settings(args.s3, S3_BUCKET, args.s3_prefix) if args.s3 else {}
    env = server_env(data, args.port, "crash-secret-crash-secret-crash-secret-00", args.postgres,
                     SIDAK_USER_PASSWORD=PASSWORD, **store)
    backend = ("postgres" if args.postgres else "sqlite") + (" + s3" if args.s3 else "")
    print(f"{backend}: seed {seed}, {args.kills} kills, {args.writers} writers, data in {data}", flush=True)

    def cli(*argv):
        subprocess.run([args.binary, *argv], env=env, check=True, stdout=subprocess.DEVNULL)

    cli("migrate")
    cli("import", "opds", os.path.join(ROOT, "samples", "opds.csv"))
    cli("import", "officials", os.path.join(ROOT, "samples", "officials.csv"))
    cli("user", "create", "--username", "inspector1", "--role", "inspector")
    cli("user", "create", "--username", "auditor", "--role", "admin")

    server = Server(args, env, data)
    ledger = Ledger()
    stop = threading.Event()
    threads = []
    failures = []
    try:
        server.start()

        def login(user):
            status, body, _ = request(args.port, "POST", "/api/v1/auth/login",
                                      {"username": user, "password": PASSWORD})
            if status != 200:
                raise SystemExit(f"login of {user}: {status} {body!r}")
            return json.loads(body)["access_token"]

        inspector, admin = login("inspector1"), login("auditor")
        opds = get_json(args.port, "/api/v1/opds?limit=200", admin)["items"]
        opd = next(o["id"] for o in opds if o["code"] == "DINKES")
        officials = [o["id"] for o in get_json(args.port, f"/api/v1/officials?opd_id={opd}&limit=200", admin)["items"]]

        for n in range(args.writers):
            t = threading.Thread(target=writer, args=(n, args, inspector, opd, officials, ledger, stop,
                                                      rng.randrange(1 << 30)), daemon=True)
            t.start()
            threads.append(t)
        for k in range(args.kills):
            time.sleep(rng.uniform(args.min_interval, args.max_interval))
            server.kill()
            with ledger.lock:
                acked = sum(1 for r in ledger.reports.values() if "submit" in r["acked"])
            print(f"{backend}: kill {k + 1}/{args.kills} (reports fully acknowledged so far: {acked})", flush=True)
            time.sleep(rng.uniform(0.0, 0.3))
            server.start()
        time.sleep(rng.uniform(args.min_interval, args.max_interval))
        stop.set()
        for t in threads:
            t.join(timeout=120)
            if t.is_alive():
                failures.append("a writer did not finish (its requests were never answered)")
        # One more kill with nothing in flight, then a clean start: what is checked is what
        # a restarted server reads back.
        server.kill()
        server.start()
        found, findings = verify(args, admin, ledger, data, backend)
        failures += found
        if args.backup and not failures:
            failures += backup_and_restore(args, env, data, admin, ledger, backend)
        server.stop()
        if not args.postgres:
            db = sqlite3.connect(os.path.join(data, "sidak.db"))
            check = db.execute("PRAGMA integrity_check").fetchall()
            db.close()
            if check != [("ok",)]:
                failures.append(f"PRAGMA integrity_check: {check[:5]}")
        print(f"{backend}: {len(ledger.reports)} reports ({findings} findings stored, {len(ledger.reports)} photos) sent; "
              f"{ledger.unanswered} requests unanswered by a killed server, {ledger.retries} retries answered",
              flush=True)
    finally:
        stop.set()
        server.stop()
        server.log.close()
    if failures:
        print(f"{backend}: FAILED (seed {seed}, data kept in {data}):", file=sys.stderr)
        for f in failures[:50]:
            print(f"  {f}", file=sys.stderr)
        return 1
    print(f"{backend}: every acknowledged report and photo survived {args.kills} kills; retries created nothing twice;"
          f" {'integrity_check ok, ' if not args.postgres else ''}audit chain ok, no stray files", flush=True)
    shutil.rmtree(data, ignore_errors=True)
    if args.postgres:
        drop_postgres(args.postgres)
    return 0


if __name__ == "__main__":
    sys.exit(main())
