#!/usr/bin/env bash
# Benchmark of arrangements in the close of business (issue 24's target: a business date with
# 50,000 active arrangements costs at most 10% more than without them, on 1M loans). Builds a
# book with the generator and imports it; a probe copy runs the first date to find active loans
# (the delinquent first); then two copies of the imported book run the same dates, one with K
# of those loans in an approved extension or instalment plan from the day before (crates/cli/
# examples/arrange_loans.rs), in the order A B A B, printing each run's wall time and peak memory.
# Usage: scripts/bench-arrangements.sh [LOANS] [K] [WORKDIR] [delinquent|any] [DATES]
#   (default 1000000 50000, a temp dir, delinquent: at most the loans delinquent on the first date,
#   10 dates after the first)
set -euo pipefail
cd "$(dirname "$0")/.."
loans="${1:-1000000}"
k="${2:-50000}"
work="${3:-$(mktemp -d)}"
which="${4:-delinquent}"
dates="${5:-10}"
last="$(date -d "2026-10-20 + $dates days" +%F)"
mkdir -p "$work"
cargo build --release -q -p arrears-cli --example arrange_loans
cargo build --release -q -p arrears-cli
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/arrears"
arrange="${CARGO_TARGET_DIR:-$PWD/target}/release/examples/arrange_loans"
mem() { [ -x /usr/bin/time ] || { "$@"; return; }; /usr/bin/time -f "%e s wall, %M KiB peak" -o "$work/mem" "$@" >/dev/null; echo "   $(cat "$work/mem")"; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
if [ ! -f "$work/book-$loans/payments.csv" ]; then
  "$bin" generate --loans "$loans" --seed 42 --as-of 2026-11-19 --out "$work/book-$loans" >/dev/null
fi
rm -f "$work"/base.db*
"$bin" --db "sqlite://$work/base.db" import "$work/book-$loans" >/dev/null
cp "$work/base.db" "$work/probe.db"
"$bin" --db "sqlite://$work/probe.db" --audit-key "$work/key" batch --date 2026-10-20 >/dev/null
for round in 1 2; do
  for v in without with; do
    rm -f "$work/$v.db"*
    cp "$work/base.db" "$work/$v.db"
    if [ "$v" = with ]; then "$arrange" "sqlite://$work/probe.db" "sqlite://$work/$v.db" "$k" 2026-10-19 "$which"; fi
    echo "== round $round, $v arrangements: first date 2026-10-20"
    mem "$bin" --db "sqlite://$work/$v.db" --audit-key "$work/key" batch --date 2026-10-20
    echo "== round $round, $v arrangements: $dates dates 2026-10-21..$last"
    mem "$bin" --db "sqlite://$work/$v.db" --audit-key "$work/key" batch --from 2026-10-21 --to "$last"
  done
done
echo "== arrangements in force at the end (with):"
"$bin" --db "sqlite://$work/with.db" report portfolio --date "$last" 2>/dev/null | head -5 || true
