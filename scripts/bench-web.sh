#!/usr/bin/env bash
# Benchmark of the workbench: a book of LOANS loans (default 1,000,000) imported and closed
# for one business date with 200 collectors, then `arrears serve` under 50 concurrent
# sessions (50 collectors, each asking for its own queue page or the first case of its
# queue) on loopback, driven by crates/server/examples/loadgen.rs. Prints requests/s and the
# latency distribution (p50 … max) for the queue page and the case page at several paced
# rates and in a closed loop, and the server's peak memory.
# Usage: scripts/bench-web.sh [LOANS] [WORKDIR]      (WORKDIR keeps the database for re-runs)
set -euo pipefail
cd "$(dirname "$0")/.."
loans="${1:-1000000}"
work="${2:-$(mktemp -d)}"
secs="${ARREARS_BENCH_SECONDS:-20}"
mkdir -p "$work"
cargo build --release -q -p arrears-cli
cargo build --release -q -p arrears-server --example loadgen
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/arrears"
loadgen="${CARGO_TARGET_DIR:-$PWD/target}/release/examples/loadgen"
db="sqlite://$work/web-$loans.db"
password="bench-password-1"

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
if [ ! -f "$work/web-$loans.ready" ]; then
  rm -f "$work/web-$loans.db"*
  "$bin" generate --loans "$loans" --seed 42 --as-of 2026-11-19 --out "$work/book-$loans" >/dev/null
  "$bin" --db "$db" import "$work/book-$loans" >/dev/null
  for i in $(seq 1 200); do
    "$bin" --db "$db" collector add "c$i" --name "催收员$i" --team "t$((i % 5))" --capacity 60 >/dev/null
  done
  "$bin" --db "$db" batch --date 2026-11-19 >/dev/null
  for i in $(seq 1 50); do
    echo "$password" | "$bin" --db "$db" user add "c$i" --role collector --team "t$((i % 5))" --password-stdin >/dev/null
  done
  touch "$work/web-$loans.ready"
fi
echo "== book: $loans loans, $("$bin" --db "$db" case list --status open --limit 1000000 | tail -n +2 | wc -l) open cases"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$bin" --db "$db" serve --addr "127.0.0.1:$port" > "$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do grep -q "serving on" "$work/serve.log" && break; sleep 0.2; done

# 50 sessions, one per collector, each with the first case of its queue.
sessions="$work/sessions.tsv"
: > "$sessions"
for i in $(seq 1 50); do
  cookie="$(curl -s -D - -o /dev/null -H 'content-type: application/json' \
    -d "{\"name\":\"c$i\",\"password\":\"$password\"}" "http://127.0.0.1:$port/api/v1/login" \
    | awk -F'[ ;]' 'tolower($1) == "set-cookie:" { print $2 }')"
  case="$(curl -s -H "cookie: $cookie" "http://127.0.0.1:$port/api/v1/queue" \
    | python3 -c 'import json,sys; q=json.load(sys.stdin); print(q[0]["case_id"] if q else "")')"
  [ -n "$case" ] || case="$(curl -s -H "cookie: $cookie" "http://127.0.0.1:$port/api/v1/cases" \
    | python3 -c 'import json,sys; q=json.load(sys.stdin); print(q[0]["case_id"] if q else "")')"
  printf '%s\t%s\n' "$cookie" "$case" >> "$sessions"
done

# Open loop: the 50 sessions send at a fixed total rate (RATES, requests/s) and latency counts
# from when a request was due. 50 collectors who each open a page every second make 50/s; the
# higher rates are headroom. Rate 0 is the closed loop (each connection sends again as soon as
# it is answered, as wrk does), which measures saturation rather than a working day.
for page in queue case; do
  for rate in ${RATES:-50 100 200 0}; do
    "$loadgen" "127.0.0.1:$port" "$sessions" "$page" "$rate" "$secs"
  done
done
echo "== server peak memory: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' /proc/$server/status)"
