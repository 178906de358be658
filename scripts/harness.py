"""What the test scripts share: one HTTP request at a time on a new connection, a server
process to start, kill and stop, photos and multipart bodies, the ids the server derives,
and fresh PostgreSQL databases. Used by crash-test.py and stress-test.py."""
import hashlib, http.client, json, os, signal, struct, subprocess, time, uuid, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Namespace of the ids of findings derived from unexcused absences (src/service/inspections.rs).
DERIVED_FINDING_NS = uuid.UUID(int=0x5D1DA4A77E0C4C4E9B7A0A11CE000001)


def derived_finding_id(attendance_id):
    """UUIDv5 over the attendance id's 16 bytes (Python's uuid5 only hashes text)."""
    digest = hashlib.sha1(DERIVED_FINDING_NS.bytes + uuid.UUID(attendance_id).bytes).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def report_differences(rid, got, body, extra_findings=()):
    """How a stored report (`got`, as `GET /api/v1/inspections/{id}` answers) differs from the
    submitted report that was sent (`body`, plus findings added later): status, notes,
    attendance, and the findings — the sent ones plus one derived absence finding per
    unexcused absence, whose id is the UUIDv5 of the attendance row's id (so a retry cannot
    add a second)."""
    failures = []
    if got["status"] != "submitted":
        failures.append(f"{rid}: status {got['status']}")
    if got.get("notes") != body["notes"]:
        failures.append(f"{rid}: notes differ")
    want_att = {a["id"]: (a["official_id"], a["status"], a.get("minutes_late")) for a in body["attendance"]}
    have_att = {a["id"]: (a["official_id"], a["status"], a.get("minutes_late")) for a in got["attendance"]}
    if want_att != have_att or len(got["attendance"]) != len(want_att):
        failures.append(f"{rid}: attendance differs")
    want_f = {f["id"]: (f.get("official_id"), f["category"], f["severity"], f["description"], "report")
              for f in [*body["findings"], *extra_findings]}
    for a in body["attendance"]:
        if a["status"] == "absent_unexcused":
            want_f[derived_finding_id(a["id"])] = (a["official_id"], "absence", "medium", None, "attendance")
    have_f = {f["id"]: (f.get("official_id"), f["category"], f["severity"],
                        None if f["source"] == "attendance" else f["description"], f["source"])
              for f in got["findings"]}
    if want_f != have_f or len(got["findings"]) != len(want_f):
        failures.append(f"{rid}: findings differ: sent {sorted(want_f.items())}, stored {sorted(have_f.items())}")
    return failures


class NoAnswer(Exception):
    """The server did not answer (killed, restarting, connection refused or reset, or no answer in time)."""


def request(port, method, path, body=None, token=None, headers=None, timeout=60):
    """One request on a new connection: (status, body bytes, headers with lower-case names)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body, h)
        resp = conn.getresponse()
        return resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()}
    except (OSError, http.client.HTTPException) as e:
        raise NoAnswer(str(e)) from e
    finally:
        conn.close()


def get_json(port, path, token):
    status, body, _ = request(port, "GET", path, token=token, timeout=120)
    if status != 200:
        raise SystemExit(f"GET {path}: {status} {body[:300]!r}")
    return json.loads(body)


def png(rng, side):
    """A valid PNG of random RGB pixels (does not compress: every photo is `side`² × 3 bytes)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + rng.randbytes(side * 3) for _ in range(side))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")


def multipart(file_bytes, meta):
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="meta"\r\nContent-Type: application/json\r\n\r\n'.encode()
        + json.dumps(meta).encode() + b"\r\n",
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode() + file_bytes + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def server_env(data, port, secret, postgres=None, **settings):
    """The environment of a server under test: data in `data`, listening on `port`, the JWT
    secret and the given `SIDAK_*` settings; every other `SIDAK_*` setting of the caller's
    environment is dropped (throttles, flag rules and limits at their defaults). SQLite in
    `data`, or `postgres` (a database this drops and creates)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDAK_")}
    env.update(SIDAK_DATA_DIR=data, SIDAK_BIND=f"127.0.0.1:{port}", SIDAK_JWT_SECRET=secret, **settings)
    env["RUST_LOG"] = "warn"
    env.pop("DATABASE_URL", None)
    if postgres:
        recreate_postgres(postgres)
        env["DATABASE_URL"] = postgres
    return env


class Server:
    """`sidak serve` with `env`, its output in `<data>/server.log`."""

    def __init__(self, args, env, data):
        self.args, self.env, self.proc = args, env, None
        self.log_path = os.path.join(data, "server.log")
        self.log = open(self.log_path, "ab")

    def start(self):
        self.proc = subprocess.Popen([self.args.binary, "serve"], env=self.env, stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                if request(self.args.port, "GET", "/readyz", timeout=2)[0] == 200:
                    return
            except NoAnswer:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited on start (status {self.proc.returncode}); see {self.log_path}")
            time.sleep(0.05)
        raise SystemExit("the server did not become ready")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _psql(url, sql):
    base, _ = url.rsplit("/", 1)
    quiet = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")
    subprocess.run(["psql", f"{base}/postgres", "-qc", sql], check=True, env=quiet)


def recreate_postgres(url):
    """Drops and creates the database that `url` names (postgres://…/NAME)."""
    name = url.rsplit("/", 1)[1]
    _psql(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _psql(url, f"CREATE DATABASE {name}")


def drop_postgres(url):
    _psql(url, f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def s3_settings(endpoint, bucket, prefix):
    """The settings of a photo store at `s3://bucket/prefix` on the S3-compatible `endpoint`
    (test credentials); makes the bucket when missing (the test endpoint takes unsigned
    requests)."""
    import urllib.error, urllib.request
    try:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{bucket}", method="PUT"), timeout=10)
    except urllib.error.HTTPError as e:
        if e.code != 409:
            raise
    return dict(SIDAK_EVIDENCE_URL=f"s3://{bucket}/{prefix}", AWS_ENDPOINT_URL=endpoint, AWS_ALLOW_HTTP="true",
                AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")


def s3_keys(endpoint, bucket, prefix):
    """Every key under `prefix/` in the bucket (ListObjectsV2, unsigned, every page)."""
    import urllib.parse, urllib.request, xml.etree.ElementTree as ET
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    keys, token = [], None
    while True:
        q = {"list-type": "2", "prefix": prefix + "/"}
        if token:
            q["continuation-token"] = token
        root = ET.fromstring(urllib.request.urlopen(f"{endpoint}/{bucket}?{urllib.parse.urlencode(q)}", timeout=30).read())
        keys += [c.find(f"{ns}Key").text for c in root.findall(f"{ns}Contents")]
        token = root.findtext(f"{ns}NextContinuationToken")
        if not token:
            return keys
