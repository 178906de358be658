#!/usr/bin/env bash
# Console page timings on the demo data set (release binary, SQLite): each page fetched six
# times with curl (the first discarded), the median of the rest, beside the JSON dashboards
# the pages are built from. Usage: bench/console.sh [path/to/release/sidak]
set -euo pipefail
B=${1:-$HOME/.cache/sidak-target/release/sidak}
D=/tmp/measure-data; rm -rf $D; mkdir -p $D
export SIDAK_DATA_DIR=$D RUST_LOG=warn SIDAK_BIND=127.0.0.1:18799
$B demo-data 2>&1 | tail -1
SIDAK_USER_PASSWORD=rahasia-sekali-123 $B user create --username budi --role supervisor >/dev/null
$B serve > $D/log 2>&1 & pid=$!
trap 'kill $pid' EXIT
for i in $(seq 1 50); do curl -sf http://127.0.0.1:18799/healthz >/dev/null && break; sleep 0.2; done
cd $D
curl -s -c jar -b jar http://127.0.0.1:18799/app/masuk -o login.html
T=$(grep -o 'name="_csrf" value="[^"]*"' login.html | sed 's/.*value="//;s/"//')
curl -s -c jar -b jar -o /dev/null --data-urlencode "_csrf=$T" --data-urlencode username=budi --data-urlencode password=rahasia-sekali-123 http://127.0.0.1:18799/app/masuk
TOKEN=$(curl -s http://127.0.0.1:18799/api/v1/auth/login -H 'content-type: application/json' -d '{"username":"budi","password":"rahasia-sekali-123"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["access_token"])')
Y=$(date +%Y)
time_it() { # label, curl args...
  local label=$1; shift
  local ts=()
  for i in 1 2 3 4 5 6; do ts+=("$(curl -s -o /tmp/m.out -w '%{time_total}' "$@")"); done
  printf '%-42s median %s s  (%s bytes)\n' "$label" "$(printf '%s\n' "${ts[@]:1}" | sort -n | sed -n 3p)" "$(wc -c < /tmp/m.out)"
}
time_it "console /app/ (this month)" -b jar "http://127.0.0.1:18799/app/"
time_it "console /app/ (whole year)" -b jar "http://127.0.0.1:18799/app/?dari=$Y-01-01"
time_it "console /app/layar" -b jar "http://127.0.0.1:18799/app/layar"
time_it "console /app/tindak-lanjut" -b jar "http://127.0.0.1:18799/app/tindak-lanjut"
time_it "console /app/laporan" -b jar "http://127.0.0.1:18799/app/laporan"
time_it "API dashboard/summary (whole year)" -H "authorization: Bearer $TOKEN" "http://127.0.0.1:18799/api/v1/dashboard/summary?from=$Y-01-01"
time_it "API dashboard/opds (whole year)" -H "authorization: Bearer $TOKEN" "http://127.0.0.1:18799/api/v1/dashboard/opds?from=$Y-01-01"
