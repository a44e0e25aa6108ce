#!/usr/bin/env bash
# Content-rule scanner throughput on one core (target: >= 50,000 messages/s).
# Usage: scripts/bench-content.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release -q -p arrears-content --example bench -- "${1:-3}"
