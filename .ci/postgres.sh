#!/usr/bin/env bash
# Makes a PostgreSQL server answer on 127.0.0.1:5432 and prints a URL for the tests.
# Uses the running server if there is one, starts the installed cluster if it is down,
# and installs Debian's postgresql package on a machine that has none.
set -euo pipefail
url="postgres://postgres:arrears@127.0.0.1:5432/postgres"
ready() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }

if ! ready; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "installing PostgreSQL (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "starting PostgreSQL $version" >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  for _ in $(seq 1 30); do ready && break; sleep 1; done
  ready || { echo "PostgreSQL did not start" >&2; exit 1; }
  # A fresh Debian install asks for a password over TCP; give the superuser one the tests know.
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'arrears'\"" >&2 || true
fi
echo "$url"
