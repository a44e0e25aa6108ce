#!/usr/bin/env bash
# Two builds of arrears on the same imported book, in the order A B A B: the first business
# date (every loan evaluated, cases opened) and a catch-up of DATES dates, wall time and peak
# memory of each run. For what a change costs the batch, e.g. issue 25's event outbox against
# the build before it (target: at most 5% more): build A from the older commit into another
# target dir, B from this one.
# On PostgreSQL when ARREARS_BENCH_PG holds an admin URL (databases bench_a and bench_b are
# made afresh each round); the import is timed too.
# Usage: scripts/bench-ab.sh BIN_A BIN_B [LOANS] [WORKDIR] [DATES]   (default 100000, a temp dir, 10)
set -euo pipefail
cd "$(dirname "$0")/.."
a="$1"
b="$2"
loans="${3:-100000}"
work="${4:-$(mktemp -d)}"
dates="${5:-10}"
last="$(date -d "2026-10-20 + $dates days" +%F)"
mkdir -p "$work"
mem() { /usr/bin/time -f "%e s wall, %M KiB peak" -o "$work/mem" "$@" >/dev/null; echo "   $(cat "$work/mem")"; }
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
if [ ! -f "$work/book-$loans/payments.csv" ]; then
  "$b" generate --loans "$loans" --seed 42 --as-of 2026-11-19 --out "$work/book-$loans" >/dev/null
fi
for round in 1 2; do
  for v in A B; do
    bin="$a"; [ "$v" = B ] && bin="$b"
    if [ -n "${ARREARS_BENCH_PG:-}" ]; then
      name="bench_${v,,}"
      psql "$ARREARS_BENCH_PG" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null
      db="${ARREARS_BENCH_PG%/*}/$name"
    else
      rm -f "$work/$v.db"*
      db="sqlite://$work/$v.db"
    fi
    echo "== round $round, $v: import $loans loans"
    mem "$bin" --db "$db" import "$work/book-$loans"
    echo "== round $round, $v: first date 2026-10-20"
    mem "$bin" --db "$db" --audit-key "$work/key" batch --date 2026-10-20
    echo "== round $round, $v: $dates dates 2026-10-21..$last"
    mem "$bin" --db "$db" --audit-key "$work/key" batch --from 2026-10-21 --to "$last"
  done
done
