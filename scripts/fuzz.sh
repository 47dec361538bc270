#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a while: SECONDS per target (the first
# argument, or FUZZ_SECONDS; default 60), one after the other, under the
# limits production puts on a parse child (see docs/security.md, "Fuzzing").
# Not part of the test suite: it needs a nightly toolchain and builds MuPDF
# again with sanitizers.
#
#   scripts/fuzz.sh            # 60 s per target
#   scripts/fuzz.sh 600 pdf    # 10 minutes of the pdf target only
#
# Settings (variables): FUZZ_SECONDS, FUZZ_TIMEOUT_SECS (one input, default
# 30), FUZZ_RSS_LIMIT_MB (default 2560), FUZZ_TARGET_DIR (default
# $CARGO_TARGET_DIR/fuzz, else target/fuzz), FUZZ_TOOLCHAIN (default the
# pinned nightly below). Crashing inputs are written to fuzz/artifacts/TARGET;
# the corpus grows in fuzz/corpus/TARGET (both ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
# The nightly the documented runs used; `nightly` is taken instead when it is that same build.
PINNED_NIGHTLY=nightly-2026-05-20

seconds="${1:-${FUZZ_SECONDS:-60}}"
shift || true
timeout="${FUZZ_TIMEOUT_SECS:-30}"
# A parse child may use 2048 MiB of address space (parse-memory-mb); the
# sanitizer's own bookkeeping needs room above that.
rss_limit="${FUZZ_RSS_LIMIT_MB:-2560}"
target_dir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$PWD/target}/fuzz}"
export PATH="$HOME/.cargo/bin:$PATH"

toolchain="${FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ]; then
  toolchain="$PINNED_NIGHTLY"
  manifest="$(rustc +nightly --print sysroot 2>/dev/null)/lib/rustlib/multirust-channel-manifest.toml"
  if ! rustup run "$toolchain" rustc -V >/dev/null 2>&1 && [ -f "$manifest" ] \
    && grep -qx "date = \"${PINNED_NIGHTLY#nightly-}\"" "$manifest"; then
    toolchain=nightly
  fi
fi
rustup run "$toolchain" rustc -V >/dev/null 2>&1 || rustup toolchain install "$toolchain" --profile minimal

if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# The seeds are made by code, with the tests' generators, in the ordinary build of the workspace.
cargo build --workspace --locked --example fuzz_seeds
seeds_bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/examples/fuzz_seeds"
"$seeds_bin" fuzz/seeds

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  mapfile -t targets < <(cargo "+$toolchain" fuzz list --fuzz-dir fuzz)
fi
cargo "+$toolchain" fuzz build --fuzz-dir fuzz --target-dir "$target_dir"
# The sanitizer instruments the C libraries too (MuPDF, SQLite). Each of them
# has function-local static tables of the same name in one translation unit,
# which AddressSanitizer's one-definition check reports before any input runs.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"
# A target that finds something stops at its first finding; the others still run.
failed=()
for target in "${targets[@]}"; do
  echo "== $target: ${seconds} s"
  mkdir -p "fuzz/corpus/$target"
  cargo "+$toolchain" fuzz run --fuzz-dir fuzz --target-dir "$target_dir" "$target" \
    "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss_limit" -print_final_stats=1 \
    || failed+=("$target")
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "findings in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "no findings"
