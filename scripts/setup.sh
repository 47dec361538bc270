#!/usr/bin/env bash
# Installs what Bindery needs on Debian and builds the release binary.
# Idempotent: installs only what is missing. Used by scripts/process.sh and
# scripts/test.sh; safe to run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null || need_apt+=(gcc)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
if [ "${1:-}" = "--test" ]; then
  # The test suite talks to PostgreSQL with psql for clean-up.
  command -v psql >/dev/null || need_apt+=(postgresql-client)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${need_apt[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
if ! command -v cargo >/dev/null; then
  echo "error: Bindery is built with Rust; install a toolchain (https://rustup.rs) and run this again." >&2
  exit 1
fi
