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
