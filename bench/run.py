#!/usr/bin/env python3
"""Sidak benchmarks: throughput, latency, errors and server memory of the routes the phones
and dashboards use most, against the HTTP and database ceilings measured in the same run.

    python3 bench/run.py                      # SQLite and PostgreSQL, writes BENCHMARKS.md
    python3 bench/run.py --seconds 5 --large 100000 --skip-writes --no-markdown   # a quicker look
    python3 bench/run.py soak --minutes 10    # mixed load, memory over time (--database postgres)

What it does (one machine, one run):
1. installs wrk (Debian package) if it is missing, builds the release binary and the two
   ceiling examples (`examples/http_ceiling.rs`, `examples/diesel_ceiling.rs`);
2. per database (SQLite in a temporary folder; PostgreSQL at --postgres, a database it drops
   and creates): loads `sidak demo-data` with 10,000 findings and times the dashboard, then
   loads it with --large findings (default 1,000,000) and times
   `GET /api/v1/dashboard/summary` (one year), `GET /api/v1/follow-ups` (a page of 50),
   `GET /api/v1/sync` (full) and `POST /api/v1/inspections` (10 attendance rows, 10 findings,
   new ids on every request) at 1, 4, 16 and 64 connections, sampling the server's RSS;
3. measures the ceilings: the minimal actix-web handler with the same connection counts, and
   the same report transaction written straight through diesel at 1, 4 and 16 connections;
4. prints the ratios and writes BENCHMARKS.md (with the machine described).

The `soak` mode loads 10,000 findings and then runs a mixed load (70% reads, 25% report
writes, 5% dashboard) for --minutes, printing RSS each minute; errors must be 0 and memory flat.
"""
import argparse, datetime, json, os, platform, re, shutil, signal, subprocess, sys, tempfile, threading, time
import http.client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "bench-password-for-all-users"
CONNECTIONS = [1, 4, 16, 64]
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))

WRK_DONE = r'''
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n', summary.requests, summary.duration, e.connect,
    e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
'''

# Every thread of every wrk run makes ids no other request used: run number, thread, counter.
WRK_IDS = r'''
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local run, counter = 0, 0
function init(args) run = tonumber(args[1]) or 0 end
local function uid()
  counter = counter + 1
  return string.format("%08x-%04x-4000-8000-%012x", run, tid, counter)
end
'''

REPORT = r'''
local function report()
  local att, fnd = {}, {}
  for i, o in ipairs(OFFICIALS) do
    local status = STATUSES[i]
    local late = status == "late" and ', "minutes_late": 20' or ''
    att[#att + 1] = string.format('{"id": "%s", "official_id": "%s", "status": "%s"%s}', uid(), o, status, late)
    fnd[#fnd + 1] = string.format('{"id": "%s", "official_id": "%s", "category": "idle", "severity": "medium", ' ..
      '"description": "Tidak berada di meja kerja pada jam pelayanan"}', uid(), o)
  end
  return string.format('{"id": "%s", "opd_id": "%s", "started_at": "%s", "location": {"latitude": -6.1171, ' ..
    '"longitude": 106.1531}, "attendance": [%s], "findings": [%s]}', uid(), OPD, STARTED,
    table.concat(att, ","), table.concat(fnd, ","))
end
'''


def lua_list(values):
    return "{" + ", ".join(f'"{v}"' for v in values) + "}"


def call(port, method, path, body=None, token=None, timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.status >= 300:
        raise SystemExit(f"{method} {path}: {resp.status} {data[:300]!r}")
    return json.loads(data) if data else None


class Rss:
    """Samples a process's resident memory (VmRSS) every 200 ms."""

    def __init__(self, pid):
        self.pid, self.samples, self.stop = pid, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def read(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            return None

    def run(self):
        while not self.stop.is_set():
            v = self.read()
            if v is not None:
                self.samples.append((time.time(), v))
            time.sleep(0.2)

    def peak(self, since=0.0):
        values = [v for t, v in self.samples if t >= since]
        return max(values) if values else float("nan")

    def close(self):
        self.stop.set()
        self.thread.join()


class Server:
    def __init__(self, cmd, env, port, log):
        self.port = port
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
        for _ in range(600):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/readyz" if "serve" in cmd else "/ping")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
            if self.proc.poll() is not None:
                raise SystemExit(f"{cmd[0]} exited on start")
        else:
            raise SystemExit(f"{cmd[0]} did not become ready")
        self.rss = Rss(self.proc.pid)

    def stop(self):
        self.rss.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


RUNS = [0]


def drain(port):
    """Waits until requests wrk left queued are done: `/readyz` queues behind them."""
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            c.request("GET", "/readyz" if port != HTTP_CEILING_PORT[0] else "/ping")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)


HTTP_CEILING_PORT = [0]


def wrk(port, path, script_body, connections, seconds, method="GET", token=None, threads=None):
    """One wrk run (two threads unless told); returns throughput, p50/p99 in ms and the error count."""
    RUNS[0] += 1
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(WRK_IDS)
    script.write(f'wrk.method = "{method}"\nwrk.path = "{path}"\n')
    if token:
        script.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    script.write(script_body)
    script.write(WRK_DONE)
    script.close()
    threads = threads or min(2, connections)
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
           "-s", script.name, f"http://127.0.0.1:{port}", "--", str(RUNS[0])]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    os.unlink(script.name)
    drain(port)
    m = re.search(r"WRKJSON (\{.*\})", out)
    if not m:
        raise SystemExit(f"wrk gave no summary:\n{out}")
    r = json.loads(m.group(1))
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return {"rps": r["requests"] / (r["duration_us"] / 1e6), "p50": r["p50_us"] / 1000.0,
            "p99": r["p99_us"] / 1000.0, "errors": errors, "requests": r["requests"]}


def fresh_env(args, backend, data, port):
    env = dict(os.environ, SIDAK_DATA_DIR=data, SIDAK_BIND=f"127.0.0.1:{port}", RUST_LOG="error",
               SIDAK_JWT_SECRET="bench-secret-bench-secret-bench-secret-00", SIDAK_USER_PASSWORD=PASSWORD,
               SIDAK_ACCESS_TOKEN_TTL_SECONDS="86400")
    if backend == "postgres":
        base, name = args.postgres.rsplit("/", 1)
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True)
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
        env["DATABASE_URL"] = args.postgres
    else:
        env["DATABASE_URL"] = f"sqlite://{data}/sidak.db"
    return env


class Dataset:
    """A fresh database with demo data and one user per role, served by the release binary."""

    def __init__(self, args, backend, findings, port):
        self.data = tempfile.mkdtemp(prefix=f"sidak-bench-{backend}-")
        self.env = fresh_env(args, backend, self.data, port)
        self.args, self.backend, self.port = args, backend, port
        binary = os.path.join(TARGET, "release", "sidak")
        cli = lambda *a: subprocess.run([binary, *a], env=self.env, check=True, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        cli("migrate")
        for user, role in [("bench.inspector", "inspector"), ("bench.supervisor", "supervisor"),
                           ("bench.viewer", "viewer")]:
            cli("user", "create", "--username", user, "--role", role)
        t = time.time()
        cli("demo-data", "--opds", "60", "--officials", "5000", "--inspections", str(max(1, findings // 10)),
            "--findings", str(findings))
        self.load_seconds = time.time() - t
        print(f"{backend}: demo data with {findings:,} findings loaded in {self.load_seconds:.0f} s", flush=True)
        self.log = open(os.path.join(self.data, "server.log"), "ab")
        self.server = Server([binary, "serve"], self.env, port, self.log)
        login = lambda u: call(port, "POST", "/api/v1/auth/login", {"username": u, "password": PASSWORD})["access_token"]
        self.inspector, self.supervisor, self.viewer = (login("bench.inspector"), login("bench.supervisor"),
                                                        login("bench.viewer"))
        # An OPD with ten officials for the reports.
        for opd in call(port, "GET", "/api/v1/opds?limit=200", token=self.supervisor)["items"]:
            officials = call(port, "GET", f"/api/v1/officials?opd_id={opd['id']}&limit=10",
                             token=self.supervisor)["items"]
            if len(officials) == 10:
                self.opd, self.opd_code = opd["id"], opd["code"]
                self.officials = [o["id"] for o in officials]
                break
        else:
            raise SystemExit("no OPD with ten officials in the demo data")
        today = datetime.date.today()
        self.year = f"from={today - datetime.timedelta(days=364)}&to={today}"

    def report_script(self, run_prefix=""):
        started = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=30)).replace(
            microsecond=0).isoformat()
        statuses = ["present", "present", "present", "late", "present", "absent_unexcused", "present", "sick",
                    "present", "leave"]
        return (f"OFFICIALS = {lua_list(self.officials)}\nSTATUSES = {lua_list(statuses)}\n"
                f'OPD = "{self.opd}"\nSTARTED = "{started}"\nwrk.headers["Content-Type"] = "application/json"\n'
                + REPORT)

    def raise_follow_ups(self, n):
        """Submitted reports with absences, so the follow-up list has pages to read."""
        import uuid
        for _ in range(n):
            body = {"id": str(uuid.uuid4()), "opd_id": self.opd, "submit": True,
                    "started_at": (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).isoformat(),
                    "attendance": [{"id": str(uuid.uuid4()), "official_id": o, "status": "absent_unexcused"}
                                   for o in self.officials]}
            call(self.port, "POST", "/api/v1/inspections", body, token=self.inspector)

    def close(self):
        self.server.stop()
        self.log.close()
        if self.backend == "postgres":
            base, name = self.args.postgres.rsplit("/", 1)
            subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])
        shutil.rmtree(self.data, ignore_errors=True)


def build(args):
    if not shutil.which("wrk"):
        print("installing wrk (Debian package)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "sidak", "--example", "http_ceiling",
                        "--example", "diesel_ceiling"], cwd=ROOT, check=True)


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1024 / 1024
    rustc = subprocess.run(["rustc", "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    wrk_v = subprocess.run(["wrk", "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    wrk_v = wrk_v.splitlines()[0].split(" [")[0] if wrk_v else "wrk"
    pg = subprocess.run(["psql", "-At", "-h", "127.0.0.1", "-U", "postgres", "-c", "SHOW server_version"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    return (f"{os.cpu_count()} × {cpu}, {mem:.0f} GiB RAM, Linux {platform.release()}; {rustc}; {wrk_v}; "
            f"SQLite bundled with the binary (WAL, synchronous=FULL); PostgreSQL {pg or 'n/a'} on the same machine. "
            f"The load generator (wrk, 2 threads) shares the cores with the server.")


def fmt_row(cells):
    return "| " + " | ".join(cells) + " |"


def bench(args):
    build(args)
    backends = ["sqlite"] + (["postgres"] if args.postgres else [])
    results, lines = {}, []
    seconds = args.seconds

    # The HTTP ceiling.
    log = open(os.devnull, "wb")
    HTTP_CEILING_PORT[0] = args.port + 1
    ceiling = Server([os.path.join(TARGET, "release", "examples", "http_ceiling"), f"127.0.0.1:{args.port + 1}"],
                     os.environ, args.port + 1, log)
    http_ceiling = {c: wrk(args.port + 1, "/ping", "", c, seconds) for c in CONNECTIONS}
    ceiling.stop()
    for c, r in http_ceiling.items():
        print(f"http ceiling: {c} connections: {r['rps']:.0f}/s p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms", flush=True)

    for backend in backends:
        res = results[backend] = {}
        small = Dataset(args, backend, 10_000, args.port)
        try:
            res["dashboard_10k"] = {c: wrk(args.port, f"/api/v1/dashboard/summary?{small.year}", "", c, seconds,
                                          token=small.viewer) for c in CONNECTIONS}
            res["load_10k"] = small.load_seconds
            res["rss_10k"] = small.server.rss.peak()
        finally:
            small.close()
        large = Dataset(args, backend, args.large, args.port)
        try:
            res["load_large"] = large.load_seconds
            large.raise_follow_ups(20)
            routes = [
                ("dashboard summary (1 year)", "GET", f"/api/v1/dashboard/summary?{large.year}", "", large.viewer),
                ("follow-ups (page of 50)", "GET", "/api/v1/follow-ups?limit=50", "", large.supervisor),
                ("sync (full)", "GET", "/api/v1/sync", "", large.inspector),
            ]
            if not args.skip_writes:
                routes.append(("POST inspections (10 + 10 rows)", "POST", "/api/v1/inspections",
                               large.report_script() + "request = function() return wrk.format(nil, nil, nil, report()) end\n",
                               large.inspector))
            res["routes"] = {}
            for name, method, path, body, token in routes:
                res["routes"][name] = {}
                for c in CONNECTIONS:
                    r = wrk(args.port, path, body, c, seconds, method=method, token=token)
                    res["routes"][name][c] = r
                    print(f"{backend}: {name}: {c} connections: {r['rps']:.1f}/s p50 {r['p50']:.1f} ms "
                          f"p99 {r['p99']:.1f} ms errors {r['errors']}", flush=True)
            res["rss_large"] = large.server.rss.peak()
            if not args.skip_writes:
                out = subprocess.run([os.path.join(TARGET, "release", "examples", "diesel_ceiling"),
                                      large.env["DATABASE_URL"], large.opd_code, "bench.inspector", str(seconds),
                                      "1", "4", "16"], stdout=subprocess.PIPE, text=True, check=True).stdout
                res["diesel"] = {json.loads(l)["connections"]: json.loads(l)["reports_per_s"]
                                 for l in out.splitlines() if l.startswith("{")}
                print(f"{backend}: diesel ceiling: {res['diesel']}", flush=True)
        finally:
            large.close()

    # Report.
    lines.append("# Sidak benchmarks\n")
    lines.append(f"Written by `python3 bench/run.py --seconds {seconds} --large {args.large}"
                 f"{' --postgres ' + args.postgres if args.postgres else ''}` on "
                 f"{datetime.date.today()}.\n")
    lines.append(f"**Machine:** {machine()}\n")
    lines.append(f"Each cell is one wrk run of {seconds} s; the demo dataset has 60 OPDs, 5,000 officials and "
                 f"reports spread over the past year (`sidak demo-data`). Errors are non-2xx answers and socket "
                 f"errors.\n")
    lines.append("## Routes\n")
    lines.append(fmt_row(["database", "route", "connections", "requests/s", "p50 ms", "p99 ms", "errors"]))
    lines.append(fmt_row(["---"] * 7))
    for c, r in http_ceiling.items():
        lines.append(fmt_row(["—", "HTTP ceiling (`examples/http_ceiling.rs`)", str(c), f"{r['rps']:.0f}",
                              f"{r['p50']:.2f}", f"{r['p99']:.2f}", str(r["errors"])]))
    for backend, res in results.items():
        for c, r in res["dashboard_10k"].items():
            lines.append(fmt_row([backend, "dashboard summary, 10k findings", str(c), f"{r['rps']:.0f}",
                                  f"{r['p50']:.1f}", f"{r['p99']:.1f}", str(r["errors"])]))
        for name, per in res["routes"].items():
            label = name.replace("dashboard summary", f"dashboard summary, {args.large // 1000}k findings")
            for c, r in per.items():
                lines.append(fmt_row([backend, label, str(c), f"{r['rps']:.1f}" if r["rps"] < 100 else f"{r['rps']:.0f}",
                                      f"{r['p50']:.1f}", f"{r['p99']:.1f}", str(r["errors"])]))
    lines.append("\n## Ratios and targets\n")
    lines.append(fmt_row(["database", "measure", "value", "target", "met"]))
    lines.append(fmt_row(["---"] * 5))
    all_met = True
    errors = 0
    for backend, res in results.items():
        errors += sum(r["errors"] for r in res["dashboard_10k"].values())
        errors += sum(r["errors"] for per in res["routes"].values() for r in per.values())
        if "diesel" in res:
            writes = res["routes"]["POST inspections (10 + 10 rows)"]
            best_api_c = max(writes, key=lambda c: writes[c]["rps"])
            best_db_c = max(res["diesel"], key=lambda c: res["diesel"][c])
            ratio = writes[best_api_c]["rps"] / res["diesel"][best_db_c]
            met = ratio >= 0.7
            all_met &= met
            lines.append(fmt_row([backend, f"report writes: best API ({writes[best_api_c]['rps']:.0f}/s at {best_api_c}) / "
                                           f"diesel ceiling ({res['diesel'][best_db_c]:.0f}/s at {best_db_c})",
                                  f"{ratio:.2f}", "≥ 0.7", "yes" if met else "**no**"]))
        dash = res["routes"]["dashboard summary (1 year)"]
        p50 = dash[1]["p50"] / res["dashboard_10k"][1]["p50"]
        best = max(r["rps"] for r in res["dashboard_10k"].values()) / max(r["rps"] for r in dash.values())
        met = p50 <= 2 and best <= 2
        all_met &= met
        lines.append(fmt_row([backend, f"dashboard summary {args.large // 1000}k / 10k findings: p50 at 1 connection, "
                                       f"best throughput (inverse)", f"{p50:.2f}, {best:.2f}", "≤ 2", "yes" if met else "**no**"]))
        peak = max(res["rss_10k"], res["rss_large"])
        met = peak < 100
        all_met &= met
        lines.append(fmt_row([backend, "server peak RSS throughout", f"{peak:.0f} MiB", "< 100 MiB",
                              "yes" if met else "**no**"]))
        for name, per in res["routes"].items():
            if name.startswith("POST"):
                continue
            best = max(r["rps"] for r in per.values()) / max(r["rps"] for r in http_ceiling.values())
            lines.append(fmt_row([backend, f"{name}: best / HTTP ceiling", f"{best:.3f}", "—", "—"]))
        lines.append(fmt_row([backend, f"demo data load: 10k / {args.large // 1000}k findings",
                              f"{res['load_10k']:.0f} s / {res['load_large']:.0f} s", "—", "—"]))
    met = errors == 0
    all_met &= met
    lines.append(fmt_row(["all", "errors in every run", str(errors), "0", "yes" if met else "**no**"]))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        path = os.path.join(ROOT, "BENCHMARKS.md")
        # The hand-written "## Notes" section (what was profiled and changed) is kept.
        # So is the table bench/peer.py writes (between its markers).
        notes, peer = "", ""
        if os.path.exists(path):
            with open(path) as f:
                old = f.read()
            if "\n## Notes" in old:
                notes = "\n" + old[old.index("\n## Notes") + 1:]
            m = re.search(r"<!-- peer:start -->.*<!-- peer:end -->", old, re.S)
            if m:
                peer = "\n" + m.group(0) + "\n"
        with open(path, "w") as f:
            f.write(text)
            f.write(peer)
            f.write(notes)
        print("written to BENCHMARKS.md")
    return 0 if all_met else 1


def soak(args):
    build(args)
    backend = args.database
    if backend == "postgres" and not args.postgres:
        raise SystemExit("--database postgres needs --postgres")
    ds = Dataset(args, backend, 10_000, args.port)
    try:
        ds.raise_follow_ups(20)
        mix = ds.report_script() + f'''
local reads = {{"/api/v1/follow-ups?limit=50", "/api/v1/sync", "/api/v1/inspections?limit=50", "/api/v1/opds?limit=50"}}
local n = 0
request = function()
  n = n + 1
  local r = n % 20
  if r < 5 then
    return wrk.format("POST", "/api/v1/inspections", {{["Authorization"] = "Bearer {ds.inspector}",
      ["Content-Type"] = "application/json"}}, report())
  elseif r == 5 then
    return wrk.format("GET", "/api/v1/dashboard/summary?{ds.year}", {{["Authorization"] = "Bearer {ds.viewer}"}})
  else
    return wrk.format("GET", reads[(n % #reads) + 1], {{["Authorization"] = "Bearer {ds.supervisor}"}})
  end
end
'''
        started = time.time()
        result = {}
        t = threading.Thread(target=lambda: result.update(wrk(args.port, "/", mix, args.connections,
                                                              int(args.minutes * 60))))
        t.start()
        minute = 0
        rows = []
        while t.is_alive():
            t.join(timeout=60)
            minute += 1
            rss = ds.server.rss.samples[-1][1] if ds.server.rss.samples else float("nan")
            rows.append((minute, rss))
            print(f"{backend} soak: minute {minute}: RSS {rss:.1f} MiB", flush=True)
        peak = ds.server.rss.peak()
        first = ds.server.rss.peak(since=started + 60) if minute > 1 else peak
        print(f"{backend} soak: {args.minutes} min at {args.connections} connections (70% reads, 25% report writes, "
              f"5% dashboard): {result['requests']} requests, {result['rps']:.0f}/s, p50 {result['p50']:.1f} ms, "
              f"p99 {result['p99']:.1f} ms, errors {result['errors']}; RSS per minute "
              f"{', '.join(f'{r:.0f}' for _, r in rows)} MiB, peak {peak:.0f} MiB", flush=True)
        return 0 if result["errors"] == 0 else 1
    finally:
        ds.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", nargs="?", default="bench", choices=["bench", "soak"])
    ap.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    ap.add_argument("--large", type=int, default=1_000_000, help="findings in the large dataset")
    ap.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/sidak_bench",
                    help="PostgreSQL database to drop, create and use; '' for SQLite only")
    ap.add_argument("--port", type=int, default=18400)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--skip-writes", action="store_true", help="skip the report writes and the diesel ceiling")
    ap.add_argument("--markdown", action=argparse.BooleanOptionalAction, default=True, help="write BENCHMARKS.md")
    ap.add_argument("--minutes", type=float, default=10, help="soak length")
    ap.add_argument("--connections", type=int, default=16, help="soak connections")
    ap.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite", help="soak database")
    args = ap.parse_args()
    if args.mode == "soak":
        return soak(args)
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
