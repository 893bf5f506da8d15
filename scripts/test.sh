#!/usr/bin/env bash
# Install everything the test suite needs, then run all of it: lint, types, and every
# test (slow and browser tests included). This is the README's test command and CI's.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: Chromium renders maps to PNG/PDF and drives the browser tests;
# PostgreSQL is a real database to load events from (the tests start their own server);
# Java runs the local Spark session of the parity tests.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)  # PySpark parity tests
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev,peers,spark,postgres]"

# One command per line: `set -e` does not stop at a failure inside an `a && b` list.
echo "== ruff"
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
echo "== mypy"
.venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
