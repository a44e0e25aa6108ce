#!/usr/bin/env bash
# Benchmark of the close of business on several worker processes (issue 25: the first date of
# a 1,000,000-loan book on PostgreSQL with 1, 2 and 4 workers, and why the curve flattens).
# Builds a book with the generator and imports it once into a template database; for each
# worker count, a fresh copy of it (CREATE DATABASE … TEMPLATE) runs the first date with that
# many `arrears worker` processes started together, and the wall time from their start to the
# last one's exit is the figure. `arrears batch` on another copy gives the one-process time.
# Usage: scripts/bench-workers.sh [LOANS] [WORKDIR] ["1 2 4"] [CHUNKS]
#   (default 100000 loans, a temp dir, 1 2 4 workers, 16 chunks per phase; PostgreSQL at
#    ARREARS_BENCH_PG's server, default postgres://postgres@127.0.0.1:5432)
set -euo pipefail
cd "$(dirname "$0")/.."
loans="${1:-100000}"
work="${2:-$(mktemp -d)}"
counts="${3:-1 2 4}"
chunks="${4:-16}"
server="${ARREARS_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
date=2026-11-19
mkdir -p "$work"
cargo build --release -q -p arrears-cli
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/arrears"
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
if [ ! -f "$work/book-$loans/loans.csv" ]; then
  "$bin" generate --loans "$loans" --seed 42 --as-of "$date" --out "$work/book-$loans" >/dev/null
fi
template="arrears_workers_${loans}"
if ! psql "$server/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$template'" | grep -q 1; then
  psql "$server/postgres" -q -c "CREATE DATABASE ${template}_new"
  "$bin" --db "$server/${template}_new" import "$work/book-$loans" >/dev/null
  psql "$server/postgres" -q -c "ALTER DATABASE ${template}_new RENAME TO $template"
fi
fresh() {
  psql "$server/postgres" -q -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1 TEMPLATE $template"
}
fresh arrears_workers_run
echo "== arrears batch, one process ($loans loans)"
/usr/bin/time -f "   %e s wall, %M KiB peak" "$bin" --db "$server/arrears_workers_run" --audit-key "$work/key" \
  batch --date "$date" | tail -2
for n in $counts; do
  fresh arrears_workers_run
  echo "== $n worker(s), $chunks chunks per phase ($loans loans)"
  start=$(date +%s.%N)
  pids=()
  for i in $(seq 1 "$n"); do
    "$bin" --db "$server/arrears_workers_run" --audit-key "$work/key" worker --date "$date" --chunks "$chunks" \
      --name "w$i" --json > "$work/worker-$n-$i.json" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  end=$(date +%s.%N)
  python3 - "$work" "$n" "$start" "$end" "$loans" <<'PY'
import json, sys
work, n, start, end, loans = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
secs = end - start
for i in range(1, n + 1):
    r = json.load(open(f"{work}/worker-{n}-{i}.json"))
    phases = {}
    for c in r["work"]["chunks"]:
        p = c.split("/")[0]
        phases[p] = phases.get(p, 0) + 1
    print(f"   w{i}: {r['seconds']:.1f} s, chunks {phases}, ms {r['work']['phase_ms']}")
print(f"   {n} worker(s): {secs:.1f} s wall, {loans / secs:.0f} loans/s")
PY
done
psql "$server/postgres" -q -c "DROP DATABASE IF EXISTS arrears_workers_run WITH (FORCE)"
