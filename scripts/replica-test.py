#!/usr/bin/env python3
"""Two replicas: two `sidak serve` processes on one PostgreSQL database and one S3 bucket,
as behind a load balancer, with the requests alternating between them.

Both are started at the same moment on an empty database (they race for the migrations)
and must both answer `/readyz`. Then, through the API:

- a photo uploaded through one replica downloads byte-identical through the other (both
  ways, and one larger than an S3 part);
- five wrong passwords for one account, spread over both, lock it on both;
- an API key allowed 5 requests a minute gets 5 through, however they are spread;
- --duration seconds of mixed traffic alternating between them: submitted reports, drafts
  with a photo uploaded through one replica and read back through the other, report lists;
  any 5xx, any request left unanswered or any unexpected status is a failure;
- afterwards every acknowledged report is there once, the audit chain verifies (the API
  and `sidak audit verify`), and neither server log holds a panic.

    python3 scripts/replica-test.py --binary target/release/sidak \\
        --postgres postgres://postgres@127.0.0.1:5432/sidak_replicas --s3 http://127.0.0.1:18500

Exit status 0 only when every check holds.
"""
import argparse, collections, datetime, hashlib, json, os, random, shutil, subprocess, sys, tempfile, threading
import time, uuid

from harness import (ROOT, NoAnswer, drop_postgres, get_json, multipart, png, request, s3_settings, server_env)

PASSWORD = "replica-password-for-all-users"
ADMIN_PASSWORD = "replica-admin-password"
BUCKET = "sidak-replicas"


def start(binary, env, log):
    return subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=log)


def wait_ready(port, proc, log_path):
    for _ in range(600):
        try:
            status, body, _ = request(port, "GET", "/readyz", timeout=2)
            if status == 200:
                return json.loads(body)
        except NoAnswer:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server on {port} exited on start (status {proc.returncode}); see {log_path}")
        time.sleep(0.05)
    raise SystemExit(f"the server on {port} did not become ready")


class Run:
    def __init__(self, ports):
        self.ports, self.lock, self.stop = ports, threading.Lock(), threading.Event()
        self.statuses = collections.Counter()
        self.failures, self.reports = [], set()
        self.turn = 0

    def port(self):
        """The next replica, in turn (as a round-robin balancer sends them)."""
        with self.lock:
            self.turn += 1
            return self.ports[self.turn % 2]

    def fail(self, msg):
        with self.lock:
            self.failures.append(msg)

    def call(self, op, method, path, body=None, token=None, headers=None, allowed=(200, 201), port=None):
        port = port or self.port()
        try:
            status, raw, h = request(port, method, path, body, token=token, headers=headers)
        except NoAnswer as e:
            self.fail(f"{op} on {port}: no answer ({e})")
            return None, b"", {}
        with self.lock:
            self.statuses[(op, status)] += 1
        if status not in allowed:
            self.fail(f"{op} on {port}: {status} {raw[:300]!r}")
        return status, raw, h


def report(opd, officials, rng, submit):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    chosen = rng.sample(officials, 3)
    return {"id": str(uuid.uuid4()), "opd_id": opd, "started_at": (now - datetime.timedelta(minutes=30)).isoformat(),
            "submit": submit, "notes": f"replica run {rng.getrandbits(32):x}",
            "attendance": [{"id": str(uuid.uuid4()), "official_id": o,
                            "status": rng.choice(["present", "present", "absent_unexcused"])} for o in chosen],
            "findings": [{"id": str(uuid.uuid4()), "official_id": o, "category": "idle",
                          "severity": rng.choice(["low", "high"]), "description": "tidak di meja"} for o in chosen]}


def photo_round_trip(run, token, opd, officials, rng, side, op="photo"):
    """A draft through one replica, a photo through the next, its bytes read back through the
    one after: byte for byte."""
    body = report(opd, officials, rng, False)
    status, _, _ = run.call(f"{op}.draft", "POST", "/api/v1/inspections", body, token)
    if status != 201:
        return
    run.reports.add(body["id"])
    data = png(rng, side)
    form, ctype = multipart(data, {"id": str(uuid.uuid4()), "sha256": hashlib.sha256(data).hexdigest()})
    up = run.port()
    status, raw, _ = run.call(f"{op}.upload", "POST", f"/api/v1/inspections/{body['id']}/evidence", form, token,
                              {"Content-Type": ctype}, port=up)
    if status != 201:
        return
    url = json.loads(raw)["content_url"]
    down = run.ports[1] if up == run.ports[0] else run.ports[0]
    status, got, _ = run.call(f"{op}.download", "GET", url, token=token, port=down)
    if status == 200 and got != data:
        run.fail(f"a photo uploaded through {up} came back different through {down}")


def writer(run, token, opd, officials, seed):
    rng = random.Random(seed)
    while not run.stop.is_set():
        body = report(opd, officials, rng, True)
        status, _, _ = run.call("report.submit", "POST", "/api/v1/inspections", body, token)
        if status == 201:
            with run.lock:
                run.reports.add(body["id"])


def photographer(run, token, opd, officials, seed):
    rng = random.Random(seed)
    while not run.stop.is_set():
        photo_round_trip(run, token, opd, officials, rng, rng.randint(16, 200))


def reader(run, token):
    while not run.stop.is_set():
        run.call("report.list", "GET", "/api/v1/inspections?limit=50", token=token)
        run.call("ready", "GET", "/readyz")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "sidak"))
    ap.add_argument("--postgres", required=True)
    ap.add_argument("--s3", required=True, help="the S3-compatible endpoint")
    ap.add_argument("--ports", default="18490,18491")
    ap.add_argument("--duration", type=float, default=15)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    prefix = f"replicas-{uuid.uuid4().hex}"
    data = [tempfile.mkdtemp(prefix=f"sidak-replica{i}-") for i in range(2)]
    store = s3_settings(args.s3, BUCKET, prefix)
    settings = dict(SIDAK_ADMIN_PASSWORD=ADMIN_PASSWORD, SIDAK_USER_PASSWORD=PASSWORD,
                    SIDAK_API_KEY_RATE_PER_MINUTE="5", SIDAK_WORKERS="2", **store)
    envs = [server_env(data[0], ports[0], "replica-secret-replica-secret-replica-0", args.postgres, **settings)]
    envs.append(dict(envs[0], SIDAK_DATA_DIR=data[1], SIDAK_BIND=f"127.0.0.1:{ports[1]}"))
    logs = [open(os.path.join(d, "server.log"), "ab") for d in data]
    procs = []
    failures = []
    run = Run(ports)
    print(f"replicas: seed {seed}, ports {ports}, photos in s3://{BUCKET}/{prefix}", flush=True)
    try:
        # Both at once, on an empty database.
        procs = [start(args.binary, envs[i], logs[i]) for i in range(2)]
        ready = [wait_ready(ports[i], procs[i], os.path.join(data[i], "server.log")) for i in range(2)]
        for r in ready:
            if r.get("database") != "postgres" or r.get("evidence") != "s3":
                failures.append(f"/readyz answered {r}")

        def cli(*argv):
            return subprocess.run([args.binary, *argv], env=envs[0], check=True, capture_output=True, text=True)

        cli("import", "opds", os.path.join(ROOT, "samples", "opds.csv"))
        cli("import", "officials", os.path.join(ROOT, "samples", "officials.csv"))
        for user in ("inspector1", "inspector2", "sari"):
            cli("user", "create", "--username", user, "--role", "inspector")

        def login(user, password, port):
            status, body, _ = request(port, "POST", "/api/v1/auth/login", {"username": user, "password": password})
            return status, (json.loads(body)["access_token"] if status == 200 else None)

        admin = login("admin", ADMIN_PASSWORD, ports[0])[1]
        inspectors = [login(u, PASSWORD, ports[i])[1] for i, u in enumerate(("inspector1", "inspector2"))]
        opds = get_json(ports[1], "/api/v1/opds?limit=200", admin)["items"]
        opd = next(o["id"] for o in opds if o["code"] == "DINKES")
        officials = [o["id"] for o in get_json(ports[0], f"/api/v1/officials?opd_id={opd}&limit=200", admin)["items"]]

        # A photo through one, read back through the other; one larger than an S3 part.
        photo_round_trip(run, inspectors[0], opd, officials, rng, 1400, op="large photo")
        photo_round_trip(run, inspectors[1], opd, officials, rng, 64)

        # Five wrong passwords spread over both lock the account on both.
        wrong = [login("sari", f"wrong-{i}", ports[i % 2])[0] for i in range(5)]
        if wrong != [401] * 5:
            failures.append(f"wrong passwords answered {wrong}, expected five 401")
        right = [login("sari", PASSWORD, p)[0] for p in ports]
        if right != [429, 429]:
            failures.append(f"after five failures over both replicas the right password answered {right}, expected 429 on both")

        # An API key allowed 5 a minute gets 5 through, spread over both.
        status, raw, _ = request(ports[1], "POST", "/api/v1/api-keys", {"name": "replica test", "role": "viewer"},
                                 token=admin)
        key = json.loads(raw)["secret"]
        answers = [request(ports[i % 2], "GET", "/api/v1/dashboard/summary", token=key)[0] for i in range(10)]
        if sorted(answers) != [200] * 5 + [429] * 5:
            failures.append(f"an API key limited to 5 a minute got {answers.count(200)} of 10 through: {answers}")

        # Mixed traffic, alternating.
        threads = [threading.Thread(target=writer, args=(run, inspectors[i], opd, officials, rng.randrange(1 << 30)))
                   for i in range(2)]
        threads.append(threading.Thread(target=photographer,
                                        args=(run, inspectors[0], opd, officials, rng.randrange(1 << 30))))
        threads.append(threading.Thread(target=reader, args=(run, admin)))
        t0 = time.time()
        for t in threads:
            t.start()
        time.sleep(args.duration)
        run.stop.set()
        for t in threads:
            t.join(timeout=120)
        elapsed = time.time() - t0

        # Every acknowledged report once, read through either replica.
        seen, cursor = [], None
        while True:
            page = get_json(ports[len(seen) % 2], "/api/v1/inspections?limit=200"
                            + (f"&cursor={cursor}" if cursor else ""), admin)
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        if len(seen) != len(set(seen)):
            failures.append("the report list repeats ids")
        if not run.reports <= set(seen):
            failures.append(f"{len(run.reports - set(seen))} acknowledged reports are missing")
        audit = get_json(ports[1], "/api/v1/audit/verify", admin)
        if not audit.get("ok"):
            failures.append(f"the audit chain does not verify: {audit}")
        failures += run.failures
        total = sum(run.statuses.values())
        print(f"replicas: {total} requests in {elapsed:.1f} s over both, {len(run.reports)} reports acknowledged",
              flush=True)
        for (op, status), n in sorted(run.statuses.items()):
            print(f"  {op:20} {status} x{n}")
        if any(status >= 500 for (_, status) in run.statuses):
            failures.append("a 5xx was answered")
    finally:
        run.stop.set()
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        for log in logs:
            log.close()
    verified = subprocess.run([args.binary, "audit", "verify"], env=envs[0], capture_output=True, text=True)
    if verified.returncode != 0:
        failures.append(f"sidak audit verify: {verified.stdout} {verified.stderr}")
    for d in data:
        text = open(os.path.join(d, "server.log"), errors="replace").read()
        if "panicked" in text:
            failures.append(f"a panic in {d}/server.log")
    if failures:
        print(f"replicas: FAILED (seed {seed}, logs kept in {data}):", file=sys.stderr)
        for f in failures[:50]:
            print(f"  {f}", file=sys.stderr)
        return 1
    drop_postgres(args.postgres)
    for d in data:
        shutil.rmtree(d, ignore_errors=True)
    print("replicas: OK: both replicas ready after starting together, photos shared byte for byte, "
          "the lockout and the key's allowance held across both, no 5xx, audit chain ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
