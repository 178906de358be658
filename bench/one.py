#!/usr/bin/env python3
"""One report workload of bench/peer.py, alone, for A/B runs and profiling.

    python3 bench/one.py BACKEND KIND CONNECTIONS SECONDS [--perf]
    BIN=/tmp/sidak-before python3 bench/one.py postgres submitted 16 6

BACKEND is sqlite or postgres, KIND drafts, submitted or reads (the page of 50 report
summaries bench/peer.py reads, after 4 s of submitted reports). A fresh database and server (the
release build, or the binary in $BIN), a 2-s warm-up, then one wrk run; prints reports/s,
p50/p99, the server's CPU per report in total and per thread name (and PostgreSQL's and the
whole machine's, wrk included), and the group commit's
counters (writes / batches = the mean batch size). With --perf, `perf record --call-graph
dwarf` samples the server during the run into perf.data (read it with `perf report
--children --sort sym -g none`).
"""
import os, sys, subprocess, types, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer, run as common  # noqa: E402

backend, kind, conns, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
do_perf = "--perf" in sys.argv[5:]
args = types.SimpleNamespace(binary=os.environ.get("BIN", os.path.join(common.TARGET, "release", "sidak")),
                             postgres="postgres://postgres@127.0.0.1:5432/sidak_peer", port=18600, seconds=secs)
s = peer.Sidak(args, backend, args.port)


def threads(pid):
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            st = open(f"/proc/{pid}/task/{t}/stat").read().rsplit(")", 1)[1].split()
            name = open(f"/proc/{pid}/task/{t}/comm").read().strip()
            out[t] = (name, int(st[11]) + int(st[12]))
        except OSError:
            pass
    return out


def postgres_ticks():
    """CPU ticks of every PostgreSQL process (backends, WAL writer, checkpointer…) by pid."""
    out = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                st = open(f"/proc/{p}/stat").read().rsplit(")", 1)
                if st[0].endswith("(postgres"):
                    f = st[1].split()
                    out[p] = int(f[11]) + int(f[12])
            except OSError:
                pass
    return out


def machine_ticks():
    """Busy CPU ticks of the whole machine (user, nice, system, irq, softirq)."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return f[0] + f[1] + f[2] + f[5] + f[6]


try:
    script = s.script(kind != "drafts")
    # reads: a page of 50 report summaries, over the submitted reports of a 4-s fill
    s.measure(kind + " (warm-up)", "/api/v1/inspections", script, conns, 4 if kind == "reads" else 2, method="POST")
    path, method = "/api/v1/inspections", "POST"
    if kind == "reads":
        path, method, script = "/api/v1/inspections?limit=50", "GET", ""
    pid = s.server.proc.pid
    rec = None
    if do_perf:
        rec = subprocess.Popen(["perf", "record", "-F", "1999", "--call-graph", "dwarf,16384", "-o", "perf.data",
                                "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    before, pg_before, all_before = threads(pid), postgres_ticks(), machine_ticks()
    r = s.measure(kind, path, script, conns, secs, method=method)
    after, pg_after, all_after = threads(pid), postgres_ticks(), machine_ticks()
    if rec:
        rec.send_signal(2)
        rec.wait()
    per_name = {}
    for t, (name, ticks) in after.items():
        per_name[name] = per_name.get(name, 0) + ticks - before.get(t, (name, 0))[1]
    hz = os.sysconf("SC_CLK_TCK")
    for name, ticks in sorted(per_name.items(), key=lambda x: -x[1]):
        if ticks:
            print(f"  {name}: {ticks / hz * 1000 / max(1, r['requests']):.3f} ms/report")
    if backend == "postgres":
        pg = sum(v - pg_before.get(k, 0) for k, v in pg_after.items())
        print(f"  postgres (all its processes): {pg / hz * 1000 / max(1, r['requests']):.3f} ms/report")
    print(f"  machine (every process, {os.cpu_count()} cores): "
          f"{(all_after - all_before) / hz * 1000 / max(1, r['requests']):.3f} ms/report")
    req = urllib.request.Request(f"http://127.0.0.1:{args.port}/metrics",
                                 headers={"Authorization": "Bearer " + s.admin})
    metrics = urllib.request.urlopen(req).read().decode()
    print("\n".join(line for line in metrics.splitlines() if line.startswith("sidak_grouped_")))
finally:
    s.close()
