#!/usr/bin/env bash
# Benchmark: generate a synthetic book and import it into a fresh SQLite database
# (or the database in ARREARS_BENCH_DB), printing loans/s for both and peak memory.
# Usage: scripts/bench-book.sh [LOANS] [WORKDIR]      (default 1000000, a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
loans="${1:-1000000}"
work="${2:-$(mktemp -d)}"
cargo build --release -q -p arrears-cli
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/arrears"
db="${ARREARS_BENCH_DB:-sqlite://$work/bench.db}"
mem() { [ -x /usr/bin/time ] || { "$@"; return; }; /usr/bin/time -f "%M" -o "$work/mem" "$@"; echo "peak memory: $(( $(cat "$work/mem") / 1024 )) MiB"; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
echo "== generate $loans loans"
rm -rf "$work/book"
mem "$bin" generate --loans "$loans" --seed 42 --as-of 2026-11-20 --out "$work/book"
du -sh "$work/book"
echo "== import into $db"
mem "$bin" --db "$db" import "$work/book"
echo "== import again (idempotent: nothing changes)"
mem "$bin" --db "$db" import "$work/book"
