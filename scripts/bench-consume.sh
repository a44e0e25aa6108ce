#!/usr/bin/env bash
# Benchmark of payments in from NATS JetStream (issue 25's target: at least 5,000 payments a
# second consumed and committed, loans re-evaluated, on SQLite and on PostgreSQL). Builds a
# book with the generator, imports it and closes its date; publishes N payments on a fresh
# stream (scripts/nats-publish-payments.py); then `arrears consume payments` reads them all
# and prints its own rate (booked / seconds from the first message to the last batch).
# PROFILE="perf record -g -o FILE --" in the environment runs the consumer under a profiler.
# Usage: scripts/bench-consume.sh [LOANS] [N] [WORKDIR] [sqlite|postgres] [BATCH]
#   (default 100000 loans, 200000 payments, a temp dir, sqlite, 1000 per batch;
#    postgres uses ARREARS_BENCH_PG, default postgres://postgres@127.0.0.1:5432/arrears_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
loans="${1:-100000}"
n="${2:-200000}"
work="${3:-$(mktemp -d)}"
backend="${4:-sqlite}"
batch="${5:-1000}"
nats_url="$(bash .ci/nats.sh)"
mkdir -p "$work"
cargo build --release -q -p arrears-cli
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/arrears"
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
if [ ! -f "$work/book-$loans/loans.csv" ]; then
  "$bin" generate --loans "$loans" --seed 42 --as-of 2026-11-19 --out "$work/book-$loans" >/dev/null
fi
if [ "$backend" = postgres ]; then
  db="${ARREARS_BENCH_PG:-postgres://postgres@127.0.0.1:5432/arrears_bench}"
  admin="${db%/*}/postgres"
  psql "$admin" -q -c "DROP DATABASE IF EXISTS ${db##*/} WITH (FORCE)" -c "CREATE DATABASE ${db##*/}"
else
  rm -f "$work"/consume.db*
  db="sqlite://$work/consume.db"
fi
"$bin" --db "$db" import "$work/book-$loans" >/dev/null
"$bin" --db "$db" --audit-key "$work/key" batch --date 2026-11-19 >/dev/null
tag="BENCH_$(date +%s)"
python3 scripts/nats-publish-payments.py "$work/book-$loans/loans.csv" "$n" "$tag" "bench.$tag" 2026-11-19 2026-11-20
echo "== consuming $n payments ($backend, $loans loans, batch $batch)"
${PROFILE:-} /usr/bin/time -f "   %e s wall, %M KiB peak" "$bin" --db "$db" --audit-key "$work/key" consume payments \
  --nats "$nats_url" --stream "$tag" --subject "bench.$tag" --durable bench --until-idle 2 --batch "$batch"
python3 - "$tag" <<'PY'
import json, socket, sys
tag = sys.argv[1]
s = socket.create_connection(("127.0.0.1", 4222)); s.recv(4096)
s.sendall(b'CONNECT {"verbose":false}\r\n')
for name in (tag, tag + "_DEAD"):
    s.sendall(b"PUB $JS.API.STREAM.DELETE.%s 0\r\n\r\n" % name.encode())
s.sendall(b"PING\r\n"); s.recv(4096)
PY
