#!/usr/bin/env bash
# Install jornada in .venv, create the demo workspace (once) and serve it on
# http://127.0.0.1:8000 . Extra arguments go to `jornada serve` (e.g. --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/jornada serve --demo "$@"
