#!/usr/bin/env python3
"""A webhook receiver for Sidak's events, with nothing but Python's standard library.

It checks each delivery's Standard Webhooks signature with the subscription's secret,
refuses stale or forged ones (401), handles each event once however often it is delivered
(deliveries are at least once: a retry, or a redelivery after a crash, carries the same
`webhook-id`), and answers 204 at once. Here "handling" prints the event as one JSON line;
a real receiver would queue it for its own work.

    SIDAK_WEBHOOK_SECRET=whsec_... python3 scripts/webhook-receiver.py --port 8600

The test suite runs it as a receiver (tests/api/deliveries.rs).
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock

TOLERANCE_SECONDS = 5 * 60


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def verify(secret: bytes, headers, body: bytes) -> bool:
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    try:
        if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            return False
    except ValueError:
        return False
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode()
    # During a secret rotation the header carries one signature per secret.
    return any(
        version == "v1" and hmac.compare_digest(sig, expected)
        for version, _, sig in (s.partition(",") for s in signatures.split())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8600)
    args = parser.parse_args()
    secret = secret_bytes(os.environ["SIDAK_WEBHOOK_SECRET"])
    seen: set[str] = set()  # a real receiver keeps these in its database
    lock = Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if not verify(secret, self.headers, body):
                self.send_response(401)
                self.end_headers()
                return
            event_id = self.headers["webhook-id"]
            event = json.loads(body)
            line = json.dumps({"id": event_id, "type": event["type"], "data": event["data"]})
            # One thread per request: the check, the note and the line go together.
            with lock:
                if event_id not in seen:
                    seen.add(event_id)
                    sys.stdout.write(line + "\n")
                    sys.stdout.flush()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"listening on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
