#!/usr/bin/env python3
"""Webhook deliveries under the report workload: what a subscription costs report writes,
and how fast deliveries keep up.

    python3 bench/webhooks.py BACKEND SECONDS [CONNECTIONS]
    BIN=/tmp/sidak-before python3 bench/webhooks.py postgres 6 16

BACKEND is sqlite or postgres. On a fresh database and server (the release build, or the
binary in $BIN, with SIDAK_WEBHOOK_ALLOW_PRIVATE=true), in one sitting:

1. submitted reports (bench/peer.py's workload) with no subscription;
2. the same with a subscription to `inspection.submitted` and `follow_up.raised` at a
   receiver on loopback (a small asyncio server in this process's child that answers 204
   and counts what it gets);

then how long after the second run's last report the last delivery arrived, the
deliveries per second over the second run and that drain, and the backlog the metrics
showed. Prints one line per run as bench/peer.py does.
"""
import os, sys, subprocess, time, types, urllib.request, json, socket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer, run as common  # noqa: E402

RECEIVER = r'''
import asyncio, sys
count = 0
async def handle(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            count += 1
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
async def report():
    while True:
        await asyncio.sleep(0.05)
        print(count, flush=True)
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    asyncio.create_task(report())
    async with server:
        await server.serve_forever()
asyncio.run(main())
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(self.port)], stdout=subprocess.PIPE,
                                     text=True)
        self.last = 0
        os.set_blocking(self.proc.stdout.fileno(), False)

    def count(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                return self.last
            self.last = int(line)

    def close(self):
        self.proc.kill()


def metric(s, name):
    req = urllib.request.Request(f"http://127.0.0.1:{s.port}/metrics", headers={"Authorization": "Bearer " + s.admin})
    for line in urllib.request.urlopen(req).read().decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return line
    return f"{name} (none)"


backend, secs = sys.argv[1], int(sys.argv[2])
conns = int(sys.argv[3]) if len(sys.argv) > 3 else 16
os.environ["SIDAK_WEBHOOK_ALLOW_PRIVATE"] = "true"
args = types.SimpleNamespace(binary=os.environ.get("BIN", os.path.join(common.TARGET, "release", "sidak")),
                             postgres="postgres://postgres@127.0.0.1:5432/sidak_peer", port=18610, seconds=secs)
s = peer.Sidak(args, backend, args.port)
receiver = Receiver()
try:
    script = s.script(True)
    s.measure("submitted (warm-up)", "/api/v1/inspections", script, conns, 2, method="POST")
    s.measure("submitted, no subscription", "/api/v1/inspections", script, conns, secs, method="POST")
    common.call(s.port, "POST", "/api/v1/webhooks",
                {"url": f"http://127.0.0.1:{receiver.port}/", "event_types": ["inspection.submitted",
                                                                               "follow_up.raised"]},
                token=s.admin)
    start = time.time()
    r = s.measure("submitted, one subscription", "/api/v1/inspections", script, conns, secs, method="POST")
    ended = time.time()
    at_end = receiver.count()
    backlog = metric(s, "sidak_webhook_backlog")
    expected = r["requests"]  # one inspection.submitted each (follow-ups were raised in the warm-up)
    while receiver.count() < expected and time.time() - ended < 120:
        time.sleep(0.05)
    done = time.time()
    got = receiver.count()
    print(f"{backend}: deliveries: {got} received ({expected} reports in the run), {at_end} by the run's end; "
          f"backlog then: {backlog.split()[-1]}; last delivery {1000 * (done - ended):.0f} ms after the run; "
          f"{got / (done - start):.0f} deliveries/s overall", flush=True)
    print("  " + metric(s, "sidak_webhook_deliveries_total"))
finally:
    receiver.close()
    s.close()
