#!/usr/bin/env python3
"""Dashboard latency over a one-year range, on a demo dataset of a given size.

Creates a fresh database (SQLite in a temporary folder, or the PostgreSQL database named by
--postgres, which is dropped and created), fills it with `sidak demo-data`, starts the
release server and times each dashboard endpoint.

    cargo build --release
    python3 scripts/bench-dashboards.py --findings 10000 --inspections 1000
    python3 scripts/bench-dashboards.py --findings 1000000 --inspections 100000
    python3 scripts/bench-dashboards.py --findings 10000 --inspections 1000 \
        --postgres postgres://postgres@127.0.0.1:5432/sidak_bench_dash
"""
import argparse, datetime, http.client, json, os, shutil, signal, subprocess, tempfile, time

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--opds", type=int, default=60)
    ap.add_argument("--officials", type=int, default=5000)
    ap.add_argument("--inspections", type=int, default=1000)
    ap.add_argument("--findings", type=int, default=10000)
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--port", type=int, default=18090)
    ap.add_argument("--postgres", default=None)
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "sidak"))
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="sidak-dash-")
    env = dict(os.environ, SIDAK_DATA_DIR=data, SIDAK_BIND=f"127.0.0.1:{args.port}", RUST_LOG="warn",
               SIDAK_JWT_SECRET="bench-secret-bench-secret-bench-secret-00", SIDAK_USER_PASSWORD="bench-admin-password")
    if args.postgres:
        base, name = args.postgres.rsplit("/", 1)
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True)
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
        env["DATABASE_URL"] = args.postgres
    else:
        env.pop("DATABASE_URL", None)
    backend = "postgres" if args.postgres else "sqlite"
    subprocess.run([args.binary, "user", "create", "--username", "admin", "--role", "admin"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    t = time.time()
    subprocess.run([args.binary, "demo-data", "--opds", str(args.opds), "--officials", str(args.officials),
                    "--inspections", str(args.inspections), "--findings", str(args.findings)], env=env, check=True,
                   stderr=subprocess.DEVNULL)
    print(f"{backend}: demo data with {args.findings} findings in {time.time() - t:.1f} s")
    server = subprocess.Popen([args.binary, "serve"], env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
        conn.request("POST", "/api/v1/auth/login", json.dumps({"username": "admin", "password": "bench-admin-password"}),
                     {"content-type": "application/json"})
        token = json.loads(conn.getresponse().read())["access_token"]
        today = datetime.date.today()
        q = f"from={today - datetime.timedelta(days=364)}&to={today}"
        print(f"| database | findings | endpoint | p50 ms | p99 ms |")
        print("|---|---|---|---|---|")
        for path in ["summary", "opds", "trends?interval=day", "trends?interval=month", "officials?min_findings=3"]:
            sep = "&" if "?" in path else "?"
            lat = []
            for _ in range(args.requests):
                t = time.perf_counter()
                conn.request("GET", f"/api/v1/dashboard/{path}{sep}{q}", headers={"authorization": f"Bearer {token}"})
                r = conn.getresponse(); r.read()
                assert r.status == 200, r.status
                lat.append((time.perf_counter() - t) * 1000)
            print(f"| {backend} | {args.findings} | {path.split('?')[0]}{' (' + path.split('=')[1] + ')' if 'interval' in path else ''} | {pct(lat, 50):.1f} | {pct(lat, 99):.1f} |")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=40)
        shutil.rmtree(data, ignore_errors=True)

if __name__ == "__main__":
    main()
