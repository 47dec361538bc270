#!/usr/bin/env bash
# Installs schemathesis, which the API contract test runs against
# `bindery serve`'s /openapi.json, into its own virtual environment, from PyPI,
# every package pinned and hash-checked (scripts/schemathesis.requirements.txt).
# Idempotent: does nothing when the pinned version is already there. Prints
# the path of the `st` program; scripts/test.sh exports it as
# BINDERY_SCHEMATHESIS.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^schemathesis==\([^ ]*\) .*/\1/p' scripts/schemathesis.requirements.txt)
venv="${BINDERY_TOOLS_DIR:-$HOME/.cache/bindery}/schemathesis-$version"
if [ "$("$venv/bin/st" --version 2>/dev/null || true)" != "st, version $version" ]; then
  command -v python3 >/dev/null || { echo "error: schemathesis needs python3" >&2; exit 1; }
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes --only-binary :all: \
    -r scripts/schemathesis.requirements.txt >&2
fi
echo "$venv/bin/st"
