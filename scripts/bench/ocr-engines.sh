#!/usr/bin/env bash
# OCR engines side by side on the corpus's scanned pages: our Tesseract binding
# (both cores, and one), the tesseract CLI (both cores), and MuPDF's own OCR
# path (its pdfocr writer; one thread, the most it allows in a process), with
# seconds per page and character error rate against the *.gt.txt files.
#   scripts/bench/ocr-engines.sh [bundled|system]
# bundled (default): MuPDF's OCR over the Tesseract and Leptonica it bundles.
# system: MuPDF's OCR over Debian's libtesseract and libleptonica.
# Builds its own release binary in target/ocr-engines (MuPDF is rebuilt with
# OCR, which the normal build leaves out). Run alone on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh --test
case "${1:-bundled}" in
  bundled) feature=mupdf-ocr-bundled ;;
  system) feature=mupdf-ocr ;;
  *) echo "usage: $0 [bundled|system]" >&2; exit 2 ;;
esac
CARGO_TARGET_DIR=target/ocr-engines cargo build --release -q -p bindery --features "$feature"
bin=target/ocr-engines/release/bindery
corpus=${BINDERY_CORPUS:-../shared/corpus}
$bin bench ocr "$corpus"/ocr/en/*.tif* --languages eng
$bin bench ocr "$corpus"/ocr/fr/*.jpg --languages fra
