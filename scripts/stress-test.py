#!/usr/bin/env python3
"""Mixed-traffic stress: inspectors, supervisors, a dashboard and a phone refreshing its
login all at once for --duration seconds, then a check that nothing was lost, doubled or
miscounted, and that the server never answered 5xx.

Starts the release binary on a fresh database (SQLite in a temporary folder, or the
PostgreSQL database named by --postgres, which is dropped and created), after `migrate`,
the sample OPDs and officials, three inspectors, two supervisors, an admin, one more user
for the login thread and a viewer API key (`sidak api-key create`). Then, concurrently:

- 2 inspector threads post whole reports submitted at once (`POST /api/v1/inspections`
  with `"submit": true`): three attendance rows (sometimes `absent_unexcused`), three
  findings, some of severity `high`, so that the flag rules raise follow-ups;
- 2 inspector threads take the long way: a draft, one more finding
  (`POST /api/v1/inspections/{id}/findings`), a small PNG (`.../evidence`), `.../submit`;
- 2 supervisor threads list open and in-review follow-ups, read one (its `ETag`) and
  `assign` it to themselves, `start_review` it when open, `comment` and `decide` it with the
  recommended sanction, each action with `If-Match`. They collide: `409` and `412` are
  legitimate answers to an action, and are counted;
- 1 dashboard reader polls `GET /api/v1/dashboard/*` with the viewer key in `X-API-Key`
  (sometimes with `If-None-Match`: `304` is fine), paced below the key's rate limit. The
  summary for a fixed range never counts fewer reports than were acknowledged before it was
  asked for, nor more than had been sent, nor fewer than an earlier answer;
- 1 phone logs in and refreshes its refresh token again and again (each answer's new token
  is the next one used, and its access token reads `/api/v1/me`); at the end of each chain
  the spent token is replayed (`401`), which must revoke the chain (the current token is
  then `401` too), and the phone logs in again.

Every request's (operation, status) is counted. Each operation has the statuses it may
answer; any other status, any 5xx and any request left unanswered is a failure. Afterwards:

- every acknowledged report is on the server once, submitted, with the attendance,
  findings (plus the derived absence findings, ids UUIDv5 of the attendance id) and notes
  that were sent, the draft path's extra finding and photo (bytes with the acknowledged
  SHA-256); the report list has no duplicates and nothing that was not sent;
- follow-ups: every finding the flag rules select (category `absence`, severity `high` or
  `critical`: the server's defaults) is in exactly one follow-up and no other finding is;
  no official has two open/in-review follow-ups; the history holds exactly the actions that
  were answered 200 (none of those answered 409/412, none twice); each 200 moved the
  version by one; every acknowledged decision stands with its sanction and supervisor;
- the dashboard summary counts exactly the submitted reports, their findings and their
  attendance rows; `GET /api/v1/audit/verify` is ok;
- with the server stopped: `sidak audit verify` and `sidak rollups check` (the rollups
  equal a rebuild from the stored reports) exit 0, `PRAGMA integrity_check` is `ok`
  (SQLite), nothing is left in `evidence/tmp`, every stored file belongs to a photo, and the
  server log has no panic.

    cargo build --release
    python3 scripts/stress-test.py --binary target/release/sidak            # SQLite, 20 s
    python3 scripts/stress-test.py --binary target/release/sidak --duration 60 --seed 7
    python3 scripts/stress-test.py --binary target/release/sidak \\
        --postgres postgres://postgres@127.0.0.1:5432/sidak_stress

Prints operation → status → count (with latencies) and requests per second, then
`stress: OK ...` or `stress: FAILED ...`. Exit status 0 only when every check holds; the
temporary folder (and the PostgreSQL database) is removed only then.
"""
import argparse, collections, datetime, hashlib, json, os, random, shutil, sqlite3, subprocess, sys, tempfile
import threading, time, traceback, urllib.parse, uuid

from harness import (ROOT, NoAnswer, Server, drop_postgres, get_json, multipart, png, report_differences,
                     request, server_env)

PASSWORD = "stress-password-for-all-users"
# The flag rules' defaults (SIDAK_FLAG_CATEGORIES, SIDAK_FLAG_SEVERITIES in src/config.rs);
# the server is started without them set.
FLAG_CATEGORIES = {"absence"}
FLAG_SEVERITIES = {"high", "critical"}

INSPECTORS = ["inspector1", "inspector2", "inspector3"]
SUPERVISORS = ["supervisor1", "supervisor2"]
ADMIN = "auditor"
PHONE = "phone-user"

# The statuses each operation may answer. Anything else, and any 5xx, is a failure.
ALLOWED = {
    "auth.login": {200},
    "auth.refresh": {200},
    "auth.me": {200},
    "auth.refresh_replay": {401},        # a spent token: refused, and the chain revoked
    "auth.refresh_after_replay": {401},  # the chain's live token, revoked by the replay
    "inspection.create_submit": {201},
    "inspection.create_draft": {201},
    "inspection.add_finding": {201},
    "inspection.evidence": {201},
    "inspection.submit": {200},
    "follow_up.list": {200},
    "follow_up.get": {200},
    # Two supervisors on one follow-up: the state moved on (409) or the ETag is stale (412).
    "follow_up.assign": {200, 409, 412},
    "follow_up.start_review": {200, 409, 412},
    "follow_up.comment": {200, 409, 412},
    "follow_up.decide": {200, 409, 412},
    "dashboard.summary": {200, 304},
    "dashboard.summary_csv": {200, 304},
    "dashboard.opds": {200, 304},
    "dashboard.trends": {200, 304},
}


class Run:
    """What the threads share: the counts, the failures, and what the server acknowledged."""

    def __init__(self, args):
        self.args, self.port = args, args.port
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.latencies = collections.defaultdict(list)  # (operation, status) -> seconds
        self.failures = []
        self.reports = {}  # id -> {"body", "path", "extra", "photo_id", "sha256", "acked": set of steps}
        self.submits_sent = 0  # submissions sent (answered or not)
        self.submits_acked = 0  # submissions answered 2xx
        self.actions = collections.Counter()  # (follow-up id, action) answered 200
        self.decisions = {}  # follow-up id -> (sanction, supervisor id)

    def fail(self, message):
        with self.lock:
            self.failures.append(message)

    def call(self, op, method, path, body=None, token=None, headers=None):
        """Sends one request, counts it under `op`; (None, b"", {}) when it got no answer."""
        start = time.monotonic()
        try:
            status, raw, h = request(self.port, method, path, body, token, headers)
        except NoAnswer as e:
            with self.lock:
                self.latencies[(op, "no answer")].append(time.monotonic() - start)
                self.failures.append(f"{op}: {method} {path} got no answer ({e})")
            time.sleep(0.2)  # not a tight loop of refused connections if the server is gone
            return None, b"", {}
        with self.lock:
            self.latencies[(op, status)].append(time.monotonic() - start)
        if status >= 500 or status not in ALLOWED[op]:
            kind = "5xx" if status >= 500 else "unexpected status"
            self.fail(f"{op}: {method} {path} answered {status} ({kind}): {raw[:400]!r}")
        return status, raw, h


class Session:
    """A user's access token, renewed by logging in again before it expires."""

    def __init__(self, run, username):
        self.run, self.username = run, username
        self.token, self.renew_at, self.user = None, 0.0, None

    def get(self):
        if self.token is None or time.monotonic() >= self.renew_at:
            status, raw, _ = self.run.call("auth.login", "POST", "/api/v1/auth/login",
                                           {"username": self.username, "password": PASSWORD})
            if status != 200:
                raise RuntimeError(f"login of {self.username} answered {status}")
            answer = json.loads(raw)
            self.token, self.user = answer["access_token"], answer["user"]
            self.renew_at = time.monotonic() + answer["expires_in"] / 2
        return self.token


def worker(run, name, target, *args):
    """Runs a thread's loop; a crash of the script's own code is a failure, with its trace."""
    try:
        target(run, *args)
    except Exception:
        run.fail(f"{name} stopped on an exception:\n{traceback.format_exc()}")


def new_report(rng, label, opd, officials):
    rid = str(uuid.uuid4())
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    chosen = rng.sample(officials, 3)
    body = {
        "id": rid, "opd_id": opd, "started_at": (now - datetime.timedelta(minutes=30)).isoformat(),
        "notes": f"{label}: {rng.getrandbits(64):x}",
        "attendance": [{"id": str(uuid.uuid4()), "official_id": o, "status": rng.choice(
            ["present", "present", "late", "absent_unexcused", "leave"])} for o in chosen],
        "findings": [new_finding(rng, rid, i, rng.choice(officials + [None])) for i in range(3)],
    }
    for a in body["attendance"]:
        if a["status"] == "late":
            a["minutes_late"] = rng.randint(1, 90)
    return body


def new_finding(rng, rid, i, official):
    f = {"id": str(uuid.uuid4()), "category": rng.choice(
        ["absence", "lateness", "idle", "poor_service", "facility", "administrative"]),
        "severity": rng.choice(["low", "medium", "medium", "high"]), "description": f"finding {i} of {rid}"}
    if official:
        f["official_id"] = official
    return f


def direct_writer(run, username, opd, officials, seed):
    """Whole reports, submitted at once."""
    rng, session = random.Random(seed), Session(run, username)
    n = 0
    while not run.stop.is_set():
        n += 1
        body = new_report(rng, f"{username} direct {n}", opd, officials)
        body["submit"] = True
        rid = body["id"]
        with run.lock:
            run.reports[rid] = {"body": body, "path": "direct", "extra": None, "photo_id": None,
                                "sha256": None, "acked": set()}
            run.submits_sent += 1
        status, raw, _ = run.call("inspection.create_submit", "POST", "/api/v1/inspections", body, session.get())
        if status == 201:
            with run.lock:
                run.reports[rid]["acked"].update({"create", "submit"})
                run.submits_acked += 1
            if json.loads(raw)["status"] != "submitted":
                run.fail(f"{rid}: created with submit=true but answered status {json.loads(raw)['status']}")


def draft_writer(run, username, opd, officials, seed):
    """Draft, one more finding, a photo of it, submit."""
    rng, session = random.Random(seed), Session(run, username)
    n = 0
    while not run.stop.is_set():
        n += 1
        body = new_report(rng, f"{username} draft {n}", opd, officials)
        rid = body["id"]
        extra = new_finding(rng, rid, 3, rng.choice(officials))
        photo = png(rng, rng.choice([16, 32, 48]))
        sha = hashlib.sha256(photo).hexdigest()
        photo_id = str(uuid.uuid4())
        entry = {"body": body, "path": "draft", "extra": extra, "photo_id": photo_id, "sha256": sha,
                 "acked": set()}
        with run.lock:
            run.reports[rid] = entry
        token = session.get()
        status, raw, _ = run.call("inspection.create_draft", "POST", "/api/v1/inspections", body, token)
        if status != 201:
            continue
        if json.loads(raw)["status"] != "draft":
            run.fail(f"{rid}: created as a draft but answered status {json.loads(raw)['status']}")
        with run.lock:
            entry["acked"].add("create")
        status, raw, _ = run.call("inspection.add_finding", "POST", f"/api/v1/inspections/{rid}/findings", extra,
                                  token)
        if status != 201:
            continue
        with run.lock:
            entry["acked"].add("finding")
        mp_body, mp_type = multipart(photo, {"id": photo_id, "finding_id": extra["id"], "sha256": sha})
        status, raw, _ = run.call("inspection.evidence", "POST", f"/api/v1/inspections/{rid}/evidence", mp_body,
                                  token, {"Content-Type": mp_type})
        if status != 201:
            continue
        if json.loads(raw)["sha256"] != sha:
            run.fail(f"{rid}: photo acknowledged with another hash")
        with run.lock:
            entry["acked"].add("photo")
            run.submits_sent += 1
        status, raw, _ = run.call("inspection.submit", "POST", f"/api/v1/inspections/{rid}/submit", None, token)
        if status != 200:
            continue
        with run.lock:
            entry["acked"].add("submit")
            run.submits_acked += 1
        if json.loads(raw)["status"] != "submitted":
            run.fail(f"{rid}: submit answered 200 with status {json.loads(raw)['status']}")


def supervisor(run, username, seed):
    """Takes open or in-review follow-ups through assign, start_review, comment and decide."""
    rng, session = random.Random(seed), Session(run, username)
    while not run.stop.is_set():
        token = session.get()
        me = session.user["id"]
        items = []
        for status in rng.sample(["open", "in_review"], 2):
            code, raw, _ = run.call("follow_up.list", "GET", f"/api/v1/follow-ups?status={status}&limit=50",
                                    token=token)
            if code == 200:
                items = json.loads(raw)["items"]
            if items:
                break
        if not items:
            time.sleep(0.05)
            continue
        fid = rng.choice(items)["id"]
        code, raw, h = run.call("follow_up.get", "GET", f"/api/v1/follow-ups/{fid}", token=token)
        if code != 200:
            continue
        fu = json.loads(raw)
        if h.get("etag") != f'"{fu["version"]}"':
            run.fail(f"follow-up {fid}: ETag {h.get('etag')!r} is not its version {fu['version']}")
        steps = [("assign", {"assignee_id": me})]
        if fu["status"] == "open":
            steps.append(("start_review", {}))
        steps.append(("comment", {"note": f"{username} looked at it"}))
        steps.append(("decide", None))
        for action, extra in steps:
            if action == "decide":
                extra = {"sanction": fu["recommendation"]["sanction"],
                         "note": f"{username}: decided as recommended ({fu['recommendation']['total_days']} days)"}
                if fu["recommendation"]["level"] == "berat":
                    # A berat sanction is recorded with its decree, dated today in the server's zone.
                    wib = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=7))).date()
                    extra.update(decree_number=f"800/{fid[:8]}/BKPSDM", decree_date=str(wib))
            version = fu["version"]
            code, raw, h = run.call(f"follow_up.{action}", "POST", f"/api/v1/follow-ups/{fid}/actions",
                                    {"action": action, **extra}, token, {"If-Match": f'"{version}"'})
            if code != 200:
                break  # someone else moved it (409/412), or a failure already recorded
            fu = json.loads(raw)
            with run.lock:
                run.actions[(fid, action)] += 1
                if action == "decide":
                    run.decisions[fid] = (extra["sanction"], me)
            if fu["version"] != version + 1 or h.get("etag") != f'"{fu["version"]}"':
                run.fail(f"follow-up {fid}: {action} with If-Match {version} answered version {fu['version']}"
                         f" (ETag {h.get('etag')!r}); expected {version + 1}")
        time.sleep(rng.uniform(0, 0.02))


def dashboard_reader(run, key, opd, seed):
    """Polls the dashboards with the viewer key, below the key's rate limit."""
    rng = random.Random(seed)
    today = datetime.date.today()
    fixed = f"from={today - datetime.timedelta(days=2)}&to={today + datetime.timedelta(days=1)}"
    summary = f"/api/v1/dashboard/summary?{fixed}"
    urls = [
        ("dashboard.summary", summary),
        ("dashboard.summary", "/api/v1/dashboard/summary"),
        ("dashboard.summary_csv", f"/api/v1/dashboard/summary?{fixed}&format=csv"),
        ("dashboard.opds", f"/api/v1/dashboard/opds?{fixed}"),
        ("dashboard.opds", f"/api/v1/dashboard/opds?opd_id={opd}"),
        ("dashboard.trends", f"/api/v1/dashboard/trends?{fixed}&interval=day"),
        ("dashboard.trends", "/api/v1/dashboard/trends?interval=week"),
        ("dashboard.trends", "/api/v1/dashboard/trends?interval=month&format=csv"),
    ]
    etags, highest = {}, 0
    while not run.stop.is_set():
        op, url = rng.choice(urls)
        headers = {"X-API-Key": key}
        if url in etags and rng.random() < 0.5:
            headers["If-None-Match"] = etags[url]
        with run.lock:
            acked_before = run.submits_acked
        status, raw, h = run.call(op, "GET", url, headers=headers)
        with run.lock:
            sent_after = run.submits_sent
        if status == 200:
            if "etag" not in h:
                run.fail(f"{op}: {url} answered 200 without an ETag")
            else:
                etags[url] = h["etag"]
            csv = "format=csv" in url
            if csv != h.get("content-type", "").startswith("text/csv"):
                run.fail(f"{op}: {url} answered Content-Type {h.get('content-type')!r}")
            if url == summary:
                n = json.loads(raw)["inspections"]
                if not acked_before <= n <= sent_after or n < highest:
                    run.fail(f"dashboard summary counted {n} reports: {acked_before} were acknowledged before"
                             f" it was asked, {sent_after} sent by its answer, {highest} counted earlier")
                highest = max(highest, n)
        elif status == 304:
            if raw:
                run.fail(f"{op}: {url} answered 304 with a body")
            if h.get("etag") != headers.get("If-None-Match"):
                run.fail(f"{op}: 304 with ETag {h.get('etag')!r} for If-None-Match {headers.get('If-None-Match')!r}")
        time.sleep(run.args.dashboard_interval)


def phone(run, seed):
    """Logs in, refreshes the refresh token again and again, replays a spent one, logs in again."""
    rng = random.Random(seed)
    while not run.stop.is_set():
        status, raw, _ = run.call("auth.login", "POST", "/api/v1/auth/login",
                                  {"username": PHONE, "password": PASSWORD})
        if status != 200:
            time.sleep(0.5)
            continue
        refresh = json.loads(raw)["refresh_token"]
        spent = None
        for _ in range(rng.randint(10, 30)):
            if run.stop.is_set():
                break
            status, raw, _ = run.call("auth.refresh", "POST", "/api/v1/auth/refresh", {"refresh_token": refresh})
            if status != 200:
                spent = None
                break
            answer = json.loads(raw)
            if answer["refresh_token"] in (refresh, spent):
                run.fail("auth.refresh answered a refresh token already used")
            spent, refresh = refresh, answer["refresh_token"]
            status, raw, _ = run.call("auth.me", "GET", "/api/v1/me", token=answer["access_token"])
            if status == 200 and json.loads(raw)["username"] != PHONE:
                run.fail(f"/api/v1/me with the refreshed token answered {json.loads(raw)['username']!r}")
        if spent:
            run.call("auth.refresh_replay", "POST", "/api/v1/auth/refresh", {"refresh_token": spent})
            run.call("auth.refresh_after_replay", "POST", "/api/v1/auth/refresh", {"refresh_token": refresh})


def all_pages(port, path, token):
    items, cursor = [], None
    while True:
        sep = "&" if "?" in path else "?"
        page = get_json(port, f"{path}{sep}limit=200" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""),
                        token)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def verify_reports(run, token):
    """The reports as stored against what was sent and acknowledged; returns the failures and
    the submitted reports' figures and flagged findings."""
    failures, port = [], run.port
    sent = run.reports
    acked = {rid for rid, r in sent.items() if "create" in r["acked"]}
    seen = [i["id"] for i in all_pages(port, "/api/v1/inspections", token)]
    if len(seen) != len(set(seen)):
        failures.append(f"the report list repeats ids ({len(seen)} rows, {len(set(seen))} ids)")
    if acked - set(seen):
        failures.append(f"{len(acked - set(seen))} acknowledged reports are missing from the list")
    if set(seen) - set(sent):
        failures.append(f"{len(set(seen) - set(sent))} reports on the server were never sent")
    figures = {"inspections": 0, "findings": 0, "attendance_checked": 0}
    flagged = set()
    for rid, r in sent.items():
        status, raw, _ = request(port, "GET", f"/api/v1/inspections/{rid}", token=token)
        if status == 404 and rid not in acked:
            continue  # never stored; its failure is already counted
        if status != 200:
            failures.append(f"{rid}: GET answered {status}")
            continue
        got = json.loads(raw)
        if got["status"] == "submitted":
            figures["inspections"] += 1
            figures["findings"] += len(got["findings"])
            figures["attendance_checked"] += len(got["attendance"])
            flagged |= {f["id"] for f in got["findings"] if f.get("official_id") and (
                f["category"] in FLAG_CATEGORIES or f["severity"] in FLAG_SEVERITIES)}
        complete = "submit" in r["acked"]
        if not complete:
            continue  # a step failed (counted already); only what was fully acknowledged is compared
        failures += report_differences(rid, got, r["body"], [r["extra"]] if r["extra"] else [])
        ev = got["evidence"]
        if r["photo_id"] is None:
            if ev:
                failures.append(f"{rid}: evidence on a report sent without a photo: {[e['id'] for e in ev]}")
            continue
        if [e["id"] for e in ev] != [r["photo_id"]] or ev[0]["sha256"] != r["sha256"] \
                or ev[0].get("finding_id") != r["extra"]["id"]:
            failures.append(f"{rid}: evidence differs: {[(e['id'], e['sha256'], e.get('finding_id')) for e in ev]}")
            continue
        status, content, _ = request(port, "GET", f"/api/v1/evidence/{r['photo_id']}/content", token=token)
        if status != 200 or hashlib.sha256(content).hexdigest() != r["sha256"]:
            failures.append(f"{rid}: photo bytes differ (status {status})")
    return failures, figures, flagged


def verify_follow_ups(run, token, flagged):
    """Follow-ups against the flag rules and the actions that were answered 200."""
    failures, port = [], run.port
    listed = all_pages(port, "/api/v1/follow-ups", token)
    ids = [f["id"] for f in listed]
    if len(ids) != len(set(ids)):
        failures.append(f"the follow-up list repeats ids ({len(ids)} rows, {len(set(ids))} ids)")
    holder = collections.defaultdict(list)  # finding id -> follow-ups holding it
    active = collections.defaultdict(list)  # official id -> open/in-review follow-ups
    events = collections.Counter()  # (follow-up id, action) in the histories
    counted = {"assign", "start_review", "comment", "decide"}
    by_status = collections.Counter()
    for fid in set(ids):
        fu = get_json(port, f"/api/v1/follow-ups/{fid}", token)
        by_status[fu["status"]] += 1
        for f in fu["findings"]:
            holder[f["id"]].append(fid)
        if fu["status"] in ("open", "in_review"):
            active[fu["official"]["id"]].append(fid)
        raises = sum(1 for e in fu["history"] if e["action"] == "raise")
        if raises != 1:
            failures.append(f"follow-up {fid}: {raises} raise events")
        for e in fu["history"]:
            if e["action"] in counted:
                events[(fid, e["action"])] += 1
        if fid in run.decisions:
            sanction, by = run.decisions[fid]
            if (fu["status"], fu["sanction"], fu["decided_by"]) != ("decided", sanction, by):
                failures.append(f"follow-up {fid}: decided with {sanction} by {by}, now {fu['status']} "
                                f"{fu['sanction']} by {fu['decided_by']}")
    for fid, who in run.decisions.items():
        if fid not in set(ids):
            failures.append(f"follow-up {fid} was decided but is not listed")
    for official, fids in active.items():
        if len(fids) > 1:
            failures.append(f"official {official} has {len(fids)} open/in-review follow-ups: {fids}")
    missing = flagged - set(holder)
    twice = {f: h for f, h in holder.items() if len(h) > 1}
    unflagged = set(holder) - flagged
    if missing:
        failures.append(f"{len(missing)} findings the flag rules select are in no follow-up, e.g. {sorted(missing)[:3]}")
    if twice:
        failures.append(f"{len(twice)} findings are in more than one follow-up, e.g. {list(twice.items())[:3]}")
    if unflagged:
        failures.append(f"{len(unflagged)} findings in follow-ups are not selected by the flag rules,"
                        f" e.g. {sorted(unflagged)[:3]}")
    if events != run.actions:
        diff = [(k, run.actions.get(k, 0), events.get(k, 0)) for k in set(events) | set(run.actions)
                if run.actions.get(k, 0) != events.get(k, 0)]
        failures.append(f"follow-up histories differ from the actions answered 200 ((follow-up, action), answered,"
                        f" in history): {diff[:5]}{' …' if len(diff) > 5 else ''}")
    return failures, len(set(ids)), by_status


def table(run, elapsed):
    rows = sorted(run.latencies.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
    total = sum(len(v) for _, v in rows)
    lines = [f"{'operation':<28}{'status':>10}{'count':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"]
    for (op, status), lat in rows:
        s = sorted(lat)
        q = lambda p: s[min(len(s) - 1, int(p * len(s)))] * 1000
        lines.append(f"{op:<28}{str(status):>10}{len(s):>8}{q(0.5):>9.1f}{q(0.95):>9.1f}{s[-1] * 1000:>9.1f}")
    lines.append(f"{'total':<28}{'':>10}{total:>8}   {total / elapsed:.1f} requests/s over {elapsed:.1f} s")
    return "\n".join(lines), total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "sidak"))
    ap.add_argument("--postgres", default=None, help="postgres://…/NAME: this database is dropped and created")
    ap.add_argument("--port", type=int, default=18390)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of traffic")
    ap.add_argument("--dashboard-interval", type=float, default=0.12,
                    help="pause between dashboard reads, seconds (the key may make 600 a minute)")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)

    data = tempfile.mkdtemp(prefix="sidak-stress-")
    env = server_env(data, args.port, "stress-secret-stress-secret-stress-secret-0", args.postgres,
                     SIDAK_USER_PASSWORD=PASSWORD)
    backend = "postgres" if args.postgres else "sqlite"
    print(f"{backend}: seed {seed}, {args.duration:g} s, data in {data}", flush=True)

    def cli(*argv, check=True):
        return subprocess.run([args.binary, *argv], env=env, check=check, capture_output=True, text=True)

    cli("migrate")
    cli("import", "opds", os.path.join(ROOT, "samples", "opds.csv"))
    cli("import", "officials", os.path.join(ROOT, "samples", "officials.csv"))
    for user, role in ([(u, "inspector") for u in INSPECTORS] + [(u, "supervisor") for u in SUPERVISORS]
                       + [(ADMIN, "admin"), (PHONE, "inspector")]):
        cli("user", "create", "--username", user, "--role", role)
    key = cli("api-key", "create", "--name", "stress dashboard", "--role", "viewer").stdout.strip()

    server = Server(args, env, data)
    run = Run(args)
    threads, failures = [], []
    elapsed = 0.0
    try:
        server.start()
        admin = Session(run, ADMIN).get()
        opds = get_json(args.port, "/api/v1/opds?limit=200", admin)["items"]
        opd = next(o["id"] for o in opds if o["code"] == "DINKES")
        officials = [o["id"] for o in get_json(args.port, f"/api/v1/officials?opd_id={opd}&limit=200", admin)["items"]]
        if len(officials) < 3:
            raise SystemExit(f"DINKES has {len(officials)} officials in samples/officials.csv; 3 are needed")

        plan = [("direct writer 1", direct_writer, INSPECTORS[0], opd, officials),
                ("direct writer 2", direct_writer, INSPECTORS[1], opd, officials),
                ("draft writer 1", draft_writer, INSPECTORS[2], opd, officials),
                ("draft writer 2", draft_writer, INSPECTORS[0], opd, officials),
                ("supervisor 1", supervisor, SUPERVISORS[0]),
                ("supervisor 2", supervisor, SUPERVISORS[1]),
                ("dashboard reader", dashboard_reader, key, opd),
                ("phone", phone)]
        started = time.monotonic()
        for name, target, *targs in plan:
            t = threading.Thread(target=worker, args=(run, name, target, *targs, rng.randrange(1 << 30)),
                                 name=name, daemon=True)
            t.start()
            threads.append(t)
        while time.monotonic() < started + args.duration:
            time.sleep(0.2)
            if server.proc.poll() is not None:
                failures.append(f"the server exited during the run (status {server.proc.returncode})")
                break
        run.stop.set()
        for t in threads:
            t.join(timeout=120)
            if t.is_alive():
                failures.append(f"{t.name} did not finish (a request was never answered)")
        elapsed = time.monotonic() - started
        report, total = table(run, elapsed)
        print(report, flush=True)

        found, figures, flagged = verify_reports(run, admin)
        failures += found
        found, n_follow_ups, by_status = verify_follow_ups(run, admin, flagged)
        failures += found
        today = datetime.date.today()
        summary = get_json(args.port, f"/api/v1/dashboard/summary?from={today - datetime.timedelta(days=2)}"
                                      f"&to={today + datetime.timedelta(days=1)}", admin)
        for k, want in figures.items():
            if summary.get(k) != want:
                failures.append(f"dashboard summary counts {summary.get(k)} {k}; the submitted reports hold {want}")
        complete = sum(1 for r in run.reports.values() if "submit" in r["acked"])
        if figures["inspections"] != complete:
            failures.append(f"{figures['inspections']} reports are submitted; {complete} submissions were acknowledged")
        audit = get_json(args.port, "/api/v1/audit/verify", admin)
        if not audit.get("ok"):
            failures.append(f"GET /api/v1/audit/verify: {audit}")
        server.stop()
        if server.proc.returncode != 0:
            print(f"{backend}: note: the server exited with status {server.proc.returncode} on SIGTERM", flush=True)

        # With the server stopped: the command-line checks, the database file, the photo files.
        for argv in (["audit", "verify"], ["rollups", "check"]):
            done = cli(*argv, check=False)
            if done.returncode != 0:
                failures.append(f"`sidak {' '.join(argv)}` exited {done.returncode}:\n"
                                + (done.stdout + done.stderr).strip()[-3000:])
            else:
                print(f"{backend}: sidak {' '.join(argv)}: {done.stdout.strip()[:200]}", flush=True)
        if not args.postgres:
            db = sqlite3.connect(os.path.join(data, "sidak.db"))
            check = db.execute("PRAGMA integrity_check").fetchall()
            db.close()
            if check != [("ok",)]:
                failures.append(f"PRAGMA integrity_check: {check[:5]}")
        root = os.path.join(data, "evidence")
        tmp = os.listdir(os.path.join(root, "tmp"))
        if tmp:
            failures.append(f"{len(tmp)} temporary files left in evidence/tmp")
        stored = {f for d, _, fs in os.walk(root) if not d.endswith("tmp") for f in fs}
        wanted = {r["sha256"] for r in run.reports.values() if "photo" in r["acked"]}
        if stored != wanted:
            failures.append(f"evidence files: {len(stored - wanted)} stray, {len(wanted - stored)} missing")
        with open(server.log_path, "rb") as f:
            log = f.read().decode("utf-8", "replace").splitlines()
        panics = [line for line in log if "panicked" in line]
        if panics:
            failures.append(f"{len(panics)} panics in server.log, first: {panics[0][:500]}")
        errors = [line for line in log if "ERROR" in line]
        if errors:
            print(f"{backend}: {len(errors)} ERROR lines in server.log, first: {errors[0][:300]}", flush=True)
    finally:
        run.stop.set()
        server.stop()
        server.log.close()

    failures = run.failures + failures
    reports = len(run.reports)
    decided = len(run.decisions)
    collisions = sum(len(v) for (op, st), v in run.latencies.items() if op.startswith("follow_up.") and st in (409, 412))
    print(f"{backend}: {figures['inspections']} reports submitted ({reports} sent, "
          f"{sum(1 for r in run.reports.values() if r['path'] == 'draft' and 'submit' in r['acked'])} the long way),"
          f" {figures['findings']} findings; {n_follow_ups} follow-ups {dict(by_status)}, {decided} decided here,"
          f" {collisions} supervisor collisions (409/412)", flush=True)
    if failures:
        fivexx = sum(len(v) for (_, st), v in run.latencies.items() if isinstance(st, int) and st >= 500)
        print(f"stress: FAILED ({backend}, seed {seed}, {len(failures)} failures, {fivexx} 5xx; data kept in {data}):",
              file=sys.stderr)
        for f in failures[:40]:
            print(f"  {f}", file=sys.stderr)
        if len(failures) > 40:
            print(f"  … and {len(failures) - 40} more", file=sys.stderr)
        return 1
    print(f"stress: OK ({backend}, seed {seed}): {total} requests in {elapsed:.1f} s ({total / elapsed:.1f}/s), "
          f"no 5xx, no unexpected status; every acknowledged report stored once as sent; follow-ups match the flag "
          f"rules and the acknowledged actions; dashboard = submitted reports; rollups check, audit verify ok",
          flush=True)
    shutil.rmtree(data, ignore_errors=True)
    if args.postgres:
        drop_postgres(args.postgres)
    return 0


if __name__ == "__main__":
    sys.exit(main())
