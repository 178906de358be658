#!/usr/bin/env python3
"""Login benchmark: login throughput and latency with N concurrent clients, /healthz latency
measured at the same time (hashing must not block the HTTP workers), and the server's peak
memory (VmHWM). Starts the release binary itself on a fresh SQLite data directory.

    cargo build --release && python3 scripts/bench-login.py [--seconds 20] [--clients 8]
"""
import argparse, http.client, json, os, shutil, signal, subprocess, sys, tempfile, threading, time

def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--port", type=int, default=18080)
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "sidak"))
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="sidak-bench-")
    password = "bench-admin-password"
    env = dict(os.environ, SIDAK_DATA_DIR=data, SIDAK_BIND=f"127.0.0.1:{args.port}",
               SIDAK_ADMIN_PASSWORD=password, SIDAK_LOGIN_MAX_FAILURES="1000000",
               SIDAK_JWT_SECRET="bench-secret-bench-secret-bench-secret-00", RUST_LOG="warn")
    env.pop("DATABASE_URL", None)
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
        body = json.dumps({"username": "admin", "password": password})
        stop = time.time() + args.seconds
        login_lat, health_lat, errors = [], [], [0]
        lock = threading.Lock()

        def login_client():
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            while time.time() < stop:
                t = time.perf_counter()
                conn.request("POST", "/api/v1/auth/login", body, {"content-type": "application/json"})
                r = conn.getresponse(); r.read()
                dt = time.perf_counter() - t
                with lock:
                    if r.status == 200:
                        login_lat.append(dt)
                    else:
                        errors[0] += 1

        def health_client():
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            while time.time() < stop:
                t = time.perf_counter()
                conn.request("GET", "/healthz")
                r = conn.getresponse(); r.read()
                health_lat.append(time.perf_counter() - t)
                time.sleep(0.01)

        threads = [threading.Thread(target=login_client) for _ in range(args.clients)]
        threads.append(threading.Thread(target=health_client))
        started = time.time()
        for t in threads: t.start()
        for t in threads: t.join()
        elapsed = time.time() - started
        with open(f"/proc/{server.pid}/status") as f:
            hwm = next((l.split()[1] for l in f if l.startswith("VmHWM")), "?")
        ms = lambda v: f"{v * 1000:.1f} ms"
        print(f"logins: {len(login_lat)} in {elapsed:.1f} s = {len(login_lat) / elapsed:.1f}/s "
              f"with {args.clients} clients, {errors[0]} errors")
        print(f"login latency: p50 {ms(pct(login_lat, 50))}, p99 {ms(pct(login_lat, 99))}")
        print(f"/healthz during the run: {len(health_lat)} requests, p50 {ms(pct(health_lat, 50))}, "
              f"p99 {ms(pct(health_lat, 99))}, max {ms(max(health_lat))}")
        print(f"server peak memory (VmHWM): {int(hwm) / 1024:.1f} MiB" if hwm != "?" else "VmHWM unknown")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=40)
        shutil.rmtree(data, ignore_errors=True)

if __name__ == "__main__":
    sys.exit(main())
