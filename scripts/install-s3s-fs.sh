#!/usr/bin/env bash
# Installs the s3s-fs binary, a small S3-protocol server backed by a local
# directory, which the bindery-blob S3 integration tests start on demand.
set -euo pipefail

VERSION="0.14.1"

if command -v s3s-fs >/dev/null 2>&1; then
    echo "s3s-fs already installed at $(command -v s3s-fs)"
    exit 0
fi

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs"
if [ -x "$cargo_bin" ]; then
    echo "s3s-fs already installed at $cargo_bin"
    exit 0
fi

echo "Installing s3s-fs $VERSION (this takes a few minutes)..."
if ! cargo install s3s-fs --version "$VERSION" --features binary --locked; then
    echo "Install with --locked failed; retrying without it." >&2
    cargo install s3s-fs --version "$VERSION" --features binary
fi
