#!/usr/bin/env bash
# Benchmark of the close of business: builds a book with the generator, imports it,
# then times one business date (the first, which evaluates every loan) and a 30-day
# catch-up (each date evaluates only the loans that can have changed), printing
# loans/s and peak memory. ARREARS_BENCH_DB picks the database (default: a fresh
# SQLite file in WORKDIR). The book's payment history runs to 2026-11-19, so during the
# catch-up payments keep arriving on their value dates as they would in production
# (a book that stopped paying at the first date would turn delinquent wholesale).
# Usage: scripts/bench-batch.sh [LOANS] [WORKDIR]      (default 1000000, a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
loans="${1:-1000000}"
work="${2:-$(mktemp -d)}"
mkdir -p "$work"
cargo build --release -q -p arrears-cli
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/arrears"
db="${ARREARS_BENCH_DB:-sqlite://$work/batch.db}"
mem() { [ -x /usr/bin/time ] || { "$@"; return; }; /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KiB peak" -o "$work/mem" "$@"; echo "   $(cat "$work/mem")"; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
if [ ! -f "$work/book-$loans/payments.csv" ]; then
  echo "== generate $loans loans"
  mem "$bin" generate --loans "$loans" --seed 42 --as-of 2026-11-19 --out "$work/book-$loans"
fi
if [[ "$db" == sqlite://* ]]; then rm -f "${db#sqlite://}" "${db#sqlite://}-wal" "${db#sqlite://}-shm"; fi
echo "== import into $db"
mem "$bin" --db "$db" import "$work/book-$loans"
# A department: 200 collectors of 60 calls a day in five teams, and one agency, so that
# treatment (strategy, tasks, outbox scheduling) and allocation do their full work.
"$bin" --db "$db" agency add default_agency --name 外包一 --commission 0.15 >/dev/null
for i in $(seq 1 200); do
  "$bin" --db "$db" collector add "c$i" --name "催收员$i" --team "t$((i % 5))" --capacity 60 >/dev/null
done
echo "== batch: first business date (every loan evaluated)"
mem "$bin" --db "$db" batch --date 2026-10-20
echo "== batch: 30-day catch-up"
mem "$bin" --db "$db" batch --from 2026-10-21 --to 2026-11-19
"$bin" --db "$db" report portfolio --date 2026-11-19 | head -30
