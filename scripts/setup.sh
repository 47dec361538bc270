#!/usr/bin/env bash
# Installs what Bindery needs on Debian and builds the release binary.
# Idempotent: installs only what is missing. Used by scripts/process.sh and
# scripts/test.sh; safe to run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
command -v cc >/dev/null || need_apt+=(gcc)
command -v c++ >/dev/null || need_apt+=(g++)
command -v make >/dev/null || need_apt+=(make)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
# Build: MuPDF's bindings are generated with libclang; OCR links libtesseract.
have_pkg libclang-dev || need_apt+=(libclang-dev)
have_pkg libtesseract-dev || need_apt+=(libtesseract-dev)
# Run: OCR models, speech, audio encoding, definitions, cover fonts.
for p in tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra espeak-ng ffmpeg wordnet-base fonts-dejavu-core; do
  have_pkg "$p" || need_apt+=("$p")
done
if [ "${1:-}" = "--test" ]; then
  # The test suite talks to PostgreSQL with psql for clean-up.
  command -v psql >/dev/null || need_apt+=(postgresql-client)
  # Baselines the tests and benchmarks compare against.
  command -v pdftotext >/dev/null || need_apt+=(poppler-utils)
  # The API contract test installs schemathesis into a virtual environment
  # (scripts/install-schemathesis.sh); Debian's python3 needs python3-venv for that.
  command -v python3 >/dev/null || need_apt+=(python3)
  python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
  # The web UI's end-to-end test drives headless Chromium through chromedriver.
  have_pkg chromium || need_apt+=(chromium)
  have_pkg chromium-driver || need_apt+=(chromium-driver)
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
# The oldest Rust the dependencies build with (the workspace's rust-version in Cargo.toml).
need_rust=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$(dirname "$0")/../Cargo.toml")
have_rust=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n%s\n' "$need_rust" "$have_rust" | sort -V | head -1)" != "$need_rust" ]; then
  echo "error: Bindery needs Rust $need_rust or newer; this machine has $have_rust (rustup update)." >&2
  exit 1
fi
