#!/usr/bin/env bash
# The main job: install what is missing, build, and process files on the
# embedded default (SQLite and a folder in ./bindery-data).
#   scripts/process.sh [FILE...]     (default: a sample book from ../shared/corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release -q -p bindery -p bindery-stages
if [ $# -eq 0 ]; then
  sample=../shared/corpus/pdfs/en-alice-in-wonderland.pdf
  if [ -f "$sample" ]; then set -- "$sample"; else set -- README.md; fi
fi
exec target/release/bindery process "$@"
