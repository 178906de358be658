#!/usr/bin/env python3
"""Sidak beside PocketBase on the same report workload, in one sitting, with the ratios.

    python3 bench/peer.py                       # PocketBase, then Sidak on SQLite and PostgreSQL
    python3 bench/peer.py --seconds 5 --no-peer # Sidak only (no ratios), a quicker look

The workload is the peer's (`../shared/peers/pocketbase/README.md`): one report = one request
with 10 attendance rows (present ×6, late ×2 with 5–90 minutes, absent_unexcused ×1, leave
×1) and 10 findings (one per official; categories rotating over idle, poor_service,
facility, administrative, integrity; severities over low, medium, high; an 80-character
description), a location and a ~90-character note, about the same 10 officials every time,
so their history grows with the run. Sidak's drafts (`"submit": false`) and submitted
reports (`"submit": true`) are measured separately, at 1, 4 and 16 connections, and at 64 for peak memory (wrk -t1, as
the peer's harness runs it), on SQLite (default durability: synchronous=FULL) and on
PostgreSQL (synchronous_commit=on), each on a fresh database. The read is one page of 50
findings (Sidak: `GET /api/v1/inspections?limit=50`, a page of report summaries with their counts).

For every run it also reads the server's CPU time (utime + stime from /proc) and peak RSS,
so "server CPU ms per report" is measured, not inferred. `--history N` first posts N
submitted reports about the same officials (through the API, in parallel) and measures the
submitted-report throughput again: the "flat in history" target.

Prints a Markdown table and, with --markdown, writes it into BENCHMARKS.md between the
markers `<!-- peer:start -->` and `<!-- peer:end -->`.
"""
import argparse, datetime, json, os, re, subprocess, sys, tempfile, time, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as common  # noqa: E402  (the shared wrk, server and dataset helpers)

ROOT = common.ROOT
PEER = os.path.join(os.path.dirname(ROOT), "shared", "peers", "pocketbase")
CONNS = [1, 4, 16]

REPORT = r'''
local CATS = {"idle", "poor_service", "facility", "administrative", "integrity"}
local SEVS = {"low", "medium", "high"}
local STATUSES = {"present", "present", "present", "late", "present", "absent_unexcused", "present", "late",
                  "present", "leave"}
local DESC = "Pegawai tidak berada di meja kerja pada jam pelayanan; dicatat oleh tim sidak kota"
local NOTE = "Sidak pagi di ruang pelayanan; kepala bidang mendampingi tim; catatan lengkap ada di berita acara."
local n = 0
local function report()
  n = n + 1
  local att, fnd = {}, {}
  for i, o in ipairs(OFFICIALS) do
    local status = STATUSES[i]
    local late = status == "late" and string.format(', "minutes_late": %d', 5 + (n * 7 + i * 13) % 86) or ''
    att[#att + 1] = string.format('{"id": "%s", "official_id": "%s", "status": "%s"%s}', uid(), o, status, late)
    fnd[#fnd + 1] = string.format('{"id": "%s", "official_id": "%s", "category": "%s", "severity": "%s", ' ..
      '"description": "%s"}', uid(), o, CATS[(n + i) % 5 + 1], SEVS[(n + i) % 3 + 1], DESC)
  end
  return string.format('{"id": "%s", "opd_id": "%s", "started_at": "%s", "notes": "%s", ' ..
    '"location": {"latitude": -6.1171, "longitude": 106.1531, "accuracy_m": 8}, "submit": %s, ' ..
    '"attendance": [%s], "findings": [%s]}', uid(), OPD, STARTED, NOTE, SUBMIT,
    table.concat(att, ","), table.concat(fnd, ","))
end
request = function() return wrk.format(nil, nil, nil, report()) end
'''


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sidak:
    """A fresh database with one OPD and ten officials, served by the release binary."""

    def __init__(self, args, backend, port):
        self.data = tempfile.mkdtemp(prefix=f"sidak-peer-{backend}-")
        self.env = common.fresh_env(args, backend, self.data, port)
        self.args, self.backend, self.port = args, backend, port
        binary = args.binary
        cli = lambda *a: subprocess.run([binary, *a], env=self.env, check=True, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        cli("migrate")
        for user, role in [("bench.inspector", "inspector"), ("bench.admin", "admin")]:
            cli("user", "create", "--username", user, "--role", role)
        self.log = open(os.path.join(self.data, "server.log"), "ab")
        self.server = common.Server([binary, "serve"], self.env, port, self.log)
        login = lambda u: common.call(port, "POST", "/api/v1/auth/login",
                                      {"username": u, "password": common.PASSWORD})["access_token"]
        self.inspector, self.admin = login("bench.inspector"), login("bench.admin")
        opd = common.call(port, "POST", "/api/v1/opds", {"code": "DPMPTSP", "name": "Dinas Penanaman Modal",
                                                         "kind": "dinas", "latitude": -6.1170,
                                                         "longitude": 106.1530}, token=self.admin)
        self.opd = opd["id"]
        self.officials = []
        for i in range(10):
            nip = f"19{80 + i:02d}0{1 + i % 9}1520{10 + i:02d}01{1 + i % 2}{i + 1:03d}"
            o = common.call(port, "POST", "/api/v1/officials",
                            {"nip": nip, "full_name": f"Pegawai {i}", "employment_type": "pns",
                             "position_title": "Staf Pelayanan", "position_kind": "pelaksana",
                             "opd_id": self.opd, "effective_from": "2024-01-02"}, token=self.admin)
            self.officials.append(o["id"])
        self.started = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=30)).replace(
            microsecond=0).isoformat()

    def script(self, submit):
        return (f"OFFICIALS = {common.lua_list(self.officials)}\nOPD = \"{self.opd}\"\n"
                f"STARTED = \"{self.started}\"\nSUBMIT = \"{'true' if submit else 'false'}\"\n"
                "wrk.headers[\"Content-Type\"] = \"application/json\"\n" + REPORT)

    def measure(self, name, path, script, connections, seconds, method="GET"):
        pid = self.server.proc.pid
        before = cpu_seconds(pid)
        since = time.time()
        r = common.wrk(self.port, path, script, connections, seconds, method=method, token=self.inspector,
                       threads=1)
        r["cpu_ms"] = (cpu_seconds(pid) - before) * 1000 / max(1, r["requests"])
        r["rss"] = self.server.rss.peak(since)
        print(f"{self.backend}: {name}: {connections} conns: {r['rps']:.0f}/s p50 {r['p50']:.1f} ms "
              f"p99 {r['p99']:.1f} ms cpu {r['cpu_ms']:.2f} ms/req rss {r['rss']:.0f} MiB errors {r['errors']}",
              flush=True)
        return r

    def history(self, n):
        """n submitted reports about the same officials, eight at a time."""
        import concurrent.futures
        body = lambda: {"id": str(uuid.uuid4()), "opd_id": self.opd, "started_at": self.started, "submit": True,
                        "attendance": [{"id": str(uuid.uuid4()), "official_id": o,
                                        "status": "absent_unexcused" if i == 5 else "present"}
                                       for i, o in enumerate(self.officials)],
                        "findings": [{"id": str(uuid.uuid4()), "official_id": o, "category": "idle",
                                      "severity": "low", "description": "Tidak di meja kerja"}
                                     for o in self.officials]}
        t = time.time()
        post = lambda _: common.call(self.port, "POST", "/api/v1/inspections", body(), token=self.inspector) and None
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for _ in pool.map(post, range(n)):  # the answers are dropped as they come
                pass
        print(f"{self.backend}: {n} reports of history posted in {time.time() - t:.0f} s", flush=True)

    def close(self):
        common.Dataset.close(self)


def peer(args):
    """Runs the PocketBase harness and reads its table: {(workload, conns): row}."""
    results = os.path.join(tempfile.mkdtemp(prefix="pbpeer-"), "RESULTS.md")
    cmd = [os.path.join(PEER, "run-peer.sh"), "--duration", str(args.seconds), "--write-conns",
           ",".join(map(str, CONNS)), "--read-conns", "4,16", "--results", results]
    print("peer:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    rows = {}
    with open(results) as f:
        for line in f:
            m = re.match(r"\| (WRITE|READ) [^|]*\| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|[^|]*\|[^|]*\|[^|]*\| "
                         r"([\d.]+) \|", line)
            if m:
                rows[(m.group(1), int(m.group(2)))] = {"rps": float(m.group(3)), "p50": float(m.group(4)),
                                                       "p99": float(m.group(5)), "cpu_ms": float(m.group(6))}
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=15, help="length of each wrk run (the peer's default)")
    ap.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/sidak_peer",
                    help="PostgreSQL database to drop, create and use; '' for SQLite only")
    ap.add_argument("--port", type=int, default=18500)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--binary", default=os.path.join(common.TARGET, "release", "sidak"),
                    help="the server binary to measure (default: the release build)")
    ap.add_argument("--no-peer", action="store_true", help="skip PocketBase (no ratios)")
    ap.add_argument("--history", type=int, default=0,
                    help="then post this many reports and measure submitted reports again")
    ap.add_argument("--markdown", action=argparse.BooleanOptionalAction, default=False,
                    help="write the table into BENCHMARKS.md")
    args = ap.parse_args()
    if not args.no_build and args.binary == os.path.join(common.TARGET, "release", "sidak"):
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "sidak"], cwd=ROOT, check=True)
    pb = {} if args.no_peer else peer(args)
    backends = ["sqlite"] + (["postgres"] if args.postgres else [])
    ours = {}
    for backend in backends:
        res = ours[backend] = {}
        for kind, submit in [("drafts", False), ("submitted", True)]:
            s = Sidak(args, backend, args.port)
            try:
                for c in CONNS:
                    res[(kind, c)] = s.measure(kind, "/api/v1/inspections", s.script(submit), c, args.seconds,
                                               method="POST")
                # The memory target is at 64 connections (not in the ratios: the peer runs up to 16).
                res[(kind, 64)] = s.measure(kind, "/api/v1/inspections", s.script(submit), 64, args.seconds,
                                            method="POST")
                if submit:
                    for c in [4, 16]:
                        res[("read", c)] = s.measure("read page of 50", "/api/v1/inspections?limit=50", "", c,
                                                     args.seconds)
                    if args.history:
                        s.history(args.history)
                        res[("after history", 16)] = s.measure(
                            f"submitted after {args.history} more", "/api/v1/inspections", s.script(True), 16,
                            args.seconds, method="POST")
            finally:
                s.close()

    lines = [f"Written by `python3 bench/peer.py --seconds {args.seconds}"
             f"{' --history ' + str(args.history) if args.history else ''}` on {datetime.date.today()}; "
             f"{common.machine().replace('(wrk, 2 threads)', '(wrk, one thread: `-t1`, as the peer harness runs it)')}\n",
             common.fmt_row(["reports/s (p50 ms, server CPU ms/report)"] + [f"{c} conn" for c in CONNS]
                            + ["ratio at 16"]),
             common.fmt_row(["---"] * (len(CONNS) + 2))]
    cell = lambda r: f"{r['rps']:.0f} ({r['p50']:.1f}, {r['cpu_ms']:.2f})" if r else "—"
    if pb:
        lines.append(common.fmt_row(["PocketBase 0.40.6 (`/api/batch`, 21 creates)"]
                                    + [cell(pb.get(("WRITE", c))) for c in CONNS] + ["1"]))
    for backend, res in ours.items():
        for kind in ["drafts", "submitted"]:
            ratio = (f"{res[(kind, 16)]['rps'] / pb[('WRITE', 16)]['rps']:.1f}×" if pb else "—")
            lines.append(common.fmt_row([f"Sidak, {backend}, {kind}"] + [cell(res.get((kind, c))) for c in CONNS]
                                        + [ratio]))
        if ("after history", 16) in res:
            r = res[("after history", 16)]
            lines.append(common.fmt_row([f"Sidak, {backend}, submitted after {args.history} more reports", "—", "—",
                                         cell(r), f"{r['rps'] / res[('submitted', 16)]['rps']:.2f} of fresh"]))
    lines.append("")
    lines.append(common.fmt_row(["page of 50 findings/s"] + ["4 conn", "16 conn", "ratio at 16"]))
    lines.append(common.fmt_row(["---"] * 4))
    if pb:
        lines.append(common.fmt_row(["PocketBase"] + [f"{pb[('READ', c)]['rps']:.0f}" for c in [4, 16]] + ["1"]))
    for backend, res in ours.items():
        ratio = f"{res[('read', 16)]['rps'] / pb[('READ', 16)]['rps']:.1f}×" if pb else "—"
        lines.append(common.fmt_row([f"Sidak, {backend}"] + [f"{res[('read', c)]['rps']:.0f}" for c in [4, 16]]
                                    + [ratio]))
    peak = max(r["rss"] for res in ours.values() for r in res.values())
    errors = sum(r["errors"] for res in ours.values() for r in res.values())
    at64 = "; ".join(f"{backend} {kind} {res[(kind, 64)]['rps']:.0f}/s, {res[(kind, 64)]['rss']:.0f} MiB"
                     for backend, res in ours.items() for kind in ["drafts", "submitted"])
    lines.append(f"\nAt 64 connections (reports/s, peak RSS): {at64}.")
    lines.append(f"\nSidak's peak RSS in these runs: {peak:.0f} MiB; errors (non-2xx, socket): {errors}.")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        path = os.path.join(ROOT, "BENCHMARKS.md")
        with open(path) as f:
            old = f.read()
        block = f"<!-- peer:start -->\n## Beside PocketBase (report writes)\n\n{text}<!-- peer:end -->"
        if "<!-- peer:start -->" in old:
            new = re.sub(r"<!-- peer:start -->.*<!-- peer:end -->", lambda _: block, old, flags=re.S)
        else:
            new = old.replace("\n## Notes", f"\n{block}\n\n## Notes", 1) if "\n## Notes" in old else old + "\n" + block
        with open(path, "w") as f:
            f.write(new)
        print("written to BENCHMARKS.md")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
