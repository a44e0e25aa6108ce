#!/usr/bin/env bash
# Benchmark of the audit log in the database: appends/s, a checkpoint, proofs and verify
# (crates/app/examples/audit_bench.rs), then the batch on a generated book with the log
# (import, the first business date and a 10-day catch-up), the entries it appended and
# the time of `audit verify`. With BASELINE_BIN=path/to/an/arrears/built/before/the/log,
# the same batch runs with that binary too, on its own database, for the comparison.
# Then logs of 1,000,000 and 10,000,000 entries (LOG_SIZES to change), written straight
# through the store layer, not by the batch, and kept in WORKDIR for the next run: the time
# of `verify` on each and the p50/p99 of 1000 inclusion proofs of random entries.
# SKIP_BATCH=1 runs only that part; PROFILE=1 also times the parts of a check one by one.
# Usage: scripts/bench-audit.sh [LOANS] [WORKDIR]      (default 20000, a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
loans="${1:-20000}"
work="${2:-$(mktemp -d)}"
mkdir -p "$work"
cargo build --release -q -p arrears-cli
cargo build --release -q -p arrears-app --example audit_bench
target="${CARGO_TARGET_DIR:-$PWD/target}/release"
bin="$target/arrears"
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > "$work/out" 2>&1 || { cat "$work/out"; exit 1; }; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
echo "== appends, proofs and verify in the database"
if [ -z "${SKIP_BATCH:-}" ]; then
"$target/examples/audit_bench" 20000
if [ ! -f "$work/book-$loans/payments.csv" ]; then
  "$bin" generate --loans "$loans" --seed 42 --as-of 2026-11-19 --out "$work/book-$loans" > /dev/null
fi
run() {
  local name="$1" b="$2" db="sqlite://$work/$1.db"
  rm -f "$work/$1.db"* 
  local imp first catch
  imp=$(secs "$b" --db "$db" import "$work/book-$loans")
  first=$(secs "$b" --db "$db" batch --date 2026-11-09)
  catch=$(secs "$b" --db "$db" batch --from 2026-11-10 --to 2026-11-19)
  printf "%-9s import %6.2f s   first date %6.2f s   10-day catch-up %6.2f s\n" "$name" "$imp" "$first" "$catch"
}
echo "== batch on $loans loans (SQLite)"
for round in 1 2 3; do
  run audit "$bin"
  if [ -n "${BASELINE_BIN:-}" ]; then run baseline "$BASELINE_BIN"; fi
done
echo "== the log after the last round"
sqlite3 "$work/audit.db" "SELECT kind, COUNT(*) FROM audit_entries GROUP BY kind ORDER BY 2 DESC" 2>/dev/null || true
t=$(secs "$bin" --db "sqlite://$work/audit.db" audit verify)
echo "audit verify: $t s ($(cat "$work/out"))"
fi

for size in ${LOG_SIZES:-1000000 10000000}; do
  echo "== a log of $size entries (SQLite)"
  "$target/examples/audit_bench" log "$size" "sqlite://$work/log-$size.db" ${PROFILE:+--profile}
  ls -l "$work/log-$size.db" | awk '{printf "database file %.2f GB\n", $5 / 1e9}'
  t=$(secs "$bin" --db "sqlite://$work/log-$size.db" --audit-key "$work/log-$size.db.audit-key" audit verify)
  echo "arrears audit verify: $t s ($(cat "$work/out"))"
done
