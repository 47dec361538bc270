#!/usr/bin/env bash
# The book pipeline's benchmarks, each beside its baseline in the same run:
#   extraction pages/s (pdftotext, PyMuPDF), OCR s/page (tesseract CLI),
#   whole books per hour, and peak memory on a 1,000-page PDF.
# Run alone on an idle machine; figures go to docs/benchmarks.md.
#   scripts/bench/books.sh [COUNT]      (COUNT books for the throughput run, default 40)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh --test
command -v qpdf >/dev/null || apt-get install -y -qq qpdf >/dev/null
python3 -c "import fitz" 2>/dev/null || pip install -q pymupdf || echo "PyMuPDF unavailable: its column stays empty"
cargo build --release -q -p bindery -p bindery-stages
bin=target/release/bindery
corpus=${BINDERY_CORPUS:-../shared/corpus}
alice=$corpus/pdfs/en-alice-in-wonderland.pdf
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== extraction (one core)"
$bin bench extract "$alice" --rounds 20
$bin bench extract "$corpus/pdfs/fr-developers-reference.pdf" --rounds 5

echo "== OCR (both cores)"
$bin bench ocr "$corpus"/ocr/en/*.tiff --languages eng
$bin bench ocr "$corpus"/ocr/fr/*.jpg --languages fra

echo "== whole books: Alice PDF (92 pages), ${1:-40} copies"
$bin bench books "$alice" --count "${1:-40}" --concurrency 4

echo "== a 1,000-page PDF (Alice eleven times): peak memory"
qpdf --empty --pages $(for _ in $(seq 11); do printf '%s ' "$alice"; done) -- "$work/big.pdf"
$bin bench books "$work/big.pdf" --count 1 --concurrency 2 --latency-samples 0
