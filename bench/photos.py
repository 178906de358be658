#!/usr/bin/env python3
"""Photo uploads and downloads: throughput and the server's peak memory, with the photos in a
local folder and (with --s3) in an S3-compatible bucket, in one sitting.

    python3 bench/photos.py                              # local folder only
    python3 bench/photos.py --s3 http://127.0.0.1:18500  # and a bucket (moto_server, say)

Per store: a fresh SQLite database and server (the release build, or --binary), one draft
report, then --photos photos of --size-mib MiB (random bytes inside a JPEG's start and end
markers, so nothing compresses) uploaded --concurrency at a time, then downloaded the same
way and checked byte for byte. Prints MiB/s each way and the server's peak RSS during the
uploads: with photos streamed to a temporary file and into the store a part at a time, the
peak should not grow with the photo's size times the uploads in flight.
"""
import argparse, hashlib, http.client, json, os, sys, threading, time, types, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer, run as common  # noqa: E402


def photo(size):
    body = os.urandom(size - 13)
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + body + b"\xff\xd9"


def upload(port, token, report, data):
    boundary = uuid.uuid4().hex
    meta = json.dumps({"id": str(uuid.uuid4()), "sha256": hashlib.sha256(data).hexdigest()}).encode()
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="meta"\r\nContent-Type: application/json\r\n\r\n'
            .encode() + meta + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
            f'Content-Type: image/jpeg\r\n\r\n'.encode() + data + f"\r\n--{boundary}--\r\n".encode())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", f"/api/v1/inspections/{report}/evidence", body,
                 {"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})
    resp = conn.getresponse()
    answer = resp.read()
    conn.close()
    if resp.status != 201:
        raise SystemExit(f"upload: {resp.status} {answer[:300]!r}")
    return json.loads(answer)["content_url"]


def download(port, token, url):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("GET", url, headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.status != 200:
        raise SystemExit(f"download: {resp.status}")
    return data


def in_parallel(jobs, concurrency):
    out, lock, queue = [None] * len(jobs), threading.Lock(), list(enumerate(jobs))

    def work():
        while True:
            with lock:
                if not queue:
                    return
                i, job = queue.pop()
            out[i] = job()

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def measure(args, store, settings):
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        s = peer.Sidak(types.SimpleNamespace(binary=args.binary, postgres=None, port=args.port, seconds=0),
                       "sqlite", args.port)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        report = str(uuid.uuid4())
        common.call(args.port, "POST", "/api/v1/inspections",
                    {"id": report, "opd_id": s.opd, "started_at": s.started, "attendance": [], "findings": []},
                    token=s.inspector)
        size = int(args.size_mib * 1024 * 1024)
        photos = [photo(size) for _ in range(args.photos)]
        base = s.server.rss.read()
        since = time.time()
        t0 = time.time()
        urls = in_parallel([lambda d=d: upload(args.port, s.inspector, report, d) for d in photos], args.concurrency)
        up = time.time() - t0
        peak = s.server.rss.peak(since)
        t0 = time.time()
        got = in_parallel([lambda u=u: download(args.port, s.inspector, u) for u in urls], args.concurrency)
        down = time.time() - t0
        if got != photos:
            raise SystemExit(f"{store}: downloaded bytes differ")
        total = size * args.photos / 1024 / 1024
        print(f"{store}: {args.photos} photos of {args.size_mib} MiB, {args.concurrency} at a time: "
              f"up {total / up:.0f} MiB/s ({args.photos / up:.1f} photos/s), down {total / down:.0f} MiB/s; "
              f"server RSS {base:.0f} MiB before, peak {peak:.0f} MiB while uploading", flush=True)
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(common.TARGET, "release", "sidak"))
    ap.add_argument("--s3", default=None)
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--size-mib", type=float, default=12)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--port", type=int, default=18620)
    args = ap.parse_args()
    measure(args, "local folder", {})
    if args.s3:
        sys.path.insert(0, os.path.join(common.ROOT, "scripts"))
        from harness import s3_settings
        measure(args, "s3 bucket", s3_settings(args.s3, "sidak-bench", f"photos-{uuid.uuid4().hex}"))


if __name__ == "__main__":
    main()
