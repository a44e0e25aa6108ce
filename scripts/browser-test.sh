#!/usr/bin/env bash
# Browser tests of the workbench: installs Debian's Chromium and playwright-core (never a
# browser download) when missing, starts `arrears demo` on a free loopback port with a
# small book, and runs tests/browser/run.mjs against it. Screenshots: target/browser-artifacts/.
# Usage: scripts/browser-test.sh        (uses target/debug/arrears, building it if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium (apt-get)" >&2
  apt-get update -qq >&2 || true
  apt-get install -y -qq chromium >&2
fi
# Chinese text in the screenshots needs a CJK font.
fc-list :lang=zh 2>/dev/null | grep -q . || apt-get install -y -qq fonts-wqy-microhei >&2 || true
command -v node >/dev/null || { apt-get update -qq >&2 || true; apt-get install -y -qq nodejs npm >&2; }
(cd tests/browser && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error; })

cargo build -q -p arrears-cli
bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/arrears"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
password="browser-test-$RANDOM$RANDOM"
artifacts="${ARREARS_ARTIFACTS:-$PWD/target/browser-artifacts}"
rm -rf "$artifacts" && mkdir -p "$artifacts"

ARREARS_DEMO_PASSWORD="$password" "$bin" demo --dir "$work" --loans 3000 --days 45 --addr "127.0.0.1:$port" \
  > "$artifacts/demo.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 180); do
  grep -q "serving on" "$artifacts/demo.log" && break
  kill -0 $server 2>/dev/null || { cat "$artifacts/demo.log"; echo "arrears demo exited" >&2; exit 1; }
  sleep 1
done
grep -q "serving on" "$artifacts/demo.log" || { cat "$artifacts/demo.log"; echo "arrears demo did not start" >&2; exit 1; }

ARREARS_URL="http://127.0.0.1:$port" ARREARS_PASSWORD="$password" ARREARS_ARTIFACTS="$artifacts" \
  node tests/browser/run.mjs
