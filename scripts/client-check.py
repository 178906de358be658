#!/usr/bin/env python3
"""Generated clients read openapi.yaml without workarounds.

1. TypeScript: openapi-typescript generates the types, `tsc --strict` type-checks the client
   flow in tests/clients/typescript/flow.ts (written without casts), and Node runs it with
   openapi-fetch against the server binary on an empty database: log in, post a report,
   upload and download a photo, read it back, list a page, decide a follow-up with a
   sanction code, a conditional read.
2. Python: openapi-python-client generates a client; any generator warning fails, except the
   two CSV import bodies (`text/csv`), which it cannot model. The generated client then reads
   what the TypeScript flow wrote (tests/clients/python/flow.py): a plain client logs in, an
   authenticated one lists and reads a report, downloads its photo, reads the decision.

The generator versions are pinned (tests/clients/typescript/package-lock.json; the
`--python-client` executable is installed by .ci/run from PyPI at a pinned version).

    python3 scripts/client-check.py --binary target/debug/sidak --python-client PATH [--port N]
"""
import argparse, os, re, shutil, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Server, server_env  # noqa: E402

TS = os.path.join(ROOT, "tests", "clients", "typescript")
PY_CONFIG = os.path.join(ROOT, "tests", "clients", "python", "config.yaml")
SPEC = os.path.join(ROOT, "openapi.yaml")
ADMIN_PASSWORD = "client-check-admin-password-1"
# What openapi-python-client may say about this spec: the CSV imports' bodies.
ALLOWED = [
    re.compile(r"WARNING parsing POST /api/v1/(officials|opds)/import within reference\. Endpoint will not be generated\."),
    re.compile(r"Unsupported content type text/csv"),
    # The header it prints before any warning, the allowed ones included.
    re.compile(r"^Warning\(s\) encountered while generating\. Client was generated, but some pieces may be missing$"),
]


def run(cmd, cwd, env=None):
    print("+", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({done.returncode})")
    return done.stdout + done.stderr


def generate_python(args, package):
    said = run([args.python_client, "generate", "--path", SPEC, "--output-path",
                os.path.join(package, "client"), "--meta", "none", "--config", PY_CONFIG], ROOT)
    unexpected = []
    for line in said.splitlines():
        line = line.strip()
        if not line or any(p.search(line) for p in ALLOWED):
            continue
        if re.search(r"warning|error|unsupported|cannot|could not|omitted|will not be generated", line, re.I):
            unexpected.append(line)
    if unexpected:
        raise SystemExit("openapi-python-client warned:\n  " + "\n  ".join(unexpected))


def serve_and_run(args, data, package):
    env = server_env(data, args.port, "client-check-secret-client-check-secret-0",
                     SIDAK_ADMIN_PASSWORD=ADMIN_PASSWORD)
    server = Server(args, env, data)
    server.start()
    try:
        url = f"http://127.0.0.1:{args.port}"
        run(["node", os.path.join("build", "flow.js")], TS,
            env=dict(os.environ, SIDAK_URL=url, SIDAK_ADMIN_PASSWORD=ADMIN_PASSWORD))
        # The generator's own interpreter has the generated client's dependencies (httpx, attrs).
        python = os.path.join(os.path.dirname(args.python_client), "python")
        run([python, os.path.join(ROOT, "tests", "clients", "python", "flow.py")], package,
            env=dict(os.environ, PYTHONPATH=package, SIDAK_URL=url, SIDAK_USER="admin",
                     SIDAK_PASSWORD=ADMIN_PASSWORD))
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--python-client", required=True, help="the openapi-python-client executable")
    ap.add_argument("--port", type=int, default=18490)
    args = ap.parse_args()
    run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], TS)
    run(["node", "generate.mjs"], TS)
    run([os.path.join("node_modules", ".bin", "tsc"), "-p", "tsconfig.json"], TS)
    package = tempfile.mkdtemp(prefix="sidak-pyclient-")
    try:
        generate_python(args, package)
        with tempfile.TemporaryDirectory(prefix="sidak-client-") as data:
            serve_and_run(args, data, package)
    finally:
        shutil.rmtree(package, ignore_errors=True)
    print("generated clients: the TypeScript and Python flows passed; the Python client generated "
          "without warnings beyond the CSV bodies")


if __name__ == "__main__":
    main()
