#!/usr/bin/env bash
# Benchmark of behaviour scoring in the close of business. A model is trained on a small
# book's 60-day history (20,000 loans), then installed into a fresh database holding a large
# book (default 1,000,000 loans), whose first business date (every loan evaluated) and a
# 10-day catch-up are run with the scoring phase on. The batch times each of its phases, so
# the script prints, per date and in total, the scoring phase's milliseconds against the rest
# of the batch: the target is at most 10% added. ARREARS_BENCH_DB picks the database of the
# large book (default: a fresh SQLite file in WORKDIR).
# Usage: scripts/bench-scores.sh [LOANS] [WORKDIR]      (default 1000000, a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
loans="${1:-1000000}"
work="${2:-$(mktemp -d)}"
mkdir -p "$work"
cargo build --release -q -p arrears-cli
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/arrears"
db="${ARREARS_BENCH_DB:-sqlite://$work/scores.db}"
small="sqlite://$work/train.db"

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
if [ ! -f "$work/model.json" ]; then
  echo "== train a model on 20000 loans over 60 business dates"
  rm -f "$work/train.db"*
  "$bin" generate --loans 20000 --seed 7 --as-of 2026-11-19 --out "$work/book-train" >/dev/null
  "$bin" --db "$small" import "$work/book-train" >/dev/null
  "$bin" --db "$small" batch --from 2026-09-21 --to 2026-11-19 >/dev/null
  "$bin" --db "$small" score behaviour train --from 2026-09-21 --to 2026-11-19 --out "$work/model.json"
fi
if [ ! -f "$work/book-$loans/payments.csv" ]; then
  echo "== generate $loans loans"
  "$bin" generate --loans "$loans" --seed 42 --as-of 2026-11-19 --out "$work/book-$loans" >/dev/null
fi
if [[ "$db" == sqlite://* ]]; then rm -f "${db#sqlite://}" "${db#sqlite://}-wal" "${db#sqlite://}-shm"; fi
echo "== import into $db"
"$bin" --db "$db" import "$work/book-$loans" >/dev/null
"$bin" --db "$db" score behaviour install "$work/model.json"
echo "== batch: first business date and a 10-day catch-up, scoring on"
"$bin" --db "$db" batch --date 2026-10-20 --json >"$work/first.json"
"$bin" --db "$db" batch --from 2026-10-21 --to 2026-10-30 --json >"$work/catchup.json"
python3 - "$work/first.json" "$work/catchup.json" <<'PY'
import json, sys
total_scores = total_rest = 0
print(f"{'date':<12} {'loans':>9} {'scored':>8} {'scores ms':>10} {'rest ms':>9} {'added':>7}")
for path in sys.argv[1:]:
    for d in json.load(open(path))["days"]:
        ms = d["phase_ms"]
        scores = ms.get("scores", 0)
        rest = sum(v for k, v in ms.items() if k != "scores")
        total_scores += scores
        total_rest += rest
        print(f"{d['date']:<12} {d['loans_evaluated']:>9} {d['scores_stored']:>8} {scores:>10} {rest:>9} {100 * scores / max(rest, 1):>6.1f}%")
print(f"{'total':<12} {'':>9} {'':>8} {total_scores:>10} {total_rest:>9} {100 * total_scores / max(total_rest, 1):>6.1f}%")
PY
