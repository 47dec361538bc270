#!/usr/bin/env bash
# Queue benchmark: `bindery bench queue` on SQLite and PostgreSQL, and Graphile
# Worker (npm `graphile-worker`, measured the way its own perfTest does) on the
# same PostgreSQL, printed side by side. Run it alone: the machine has 2 cores.
#
#   scripts/bench/queue.sh [JOBS]        (default 100000)
#
# Needs: a release build (it builds one), PostgreSQL reachable at
# BINDERY_BENCH_PG (default postgres://postgres@127.0.0.1:5432), Node.js and npm.
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS=${1:-100000}
PG=${BINDERY_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
cargo build --release -q -p bindery -p bindery-stages
BIN=target/release/bindery

fresh_db() {
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
}

echo "== bindery, SQLite (scratch file)"
$BIN bench queue --jobs "$JOBS" --json | tee /tmp/bindery-bench-sqlite.json
fresh_db bindery_bench
echo "== bindery, PostgreSQL"
$BIN bench queue --jobs "$JOBS" --json --database-url "$PG/bindery_bench" | tee /tmp/bindery-bench-pg.json

NODE_DIR=target/bench-node
if [ ! -d "$NODE_DIR/node_modules/graphile-worker" ]; then
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && npm install --silent --no-audit --no-fund graphile-worker@0.17.3 pg@8)
fi
fresh_db graphile_bench
echo "== graphile-worker 0.17.3, PostgreSQL (4 processes x 24, as its perfTest)"
NODE_PATH="$NODE_DIR/node_modules" node scripts/bench/graphile.cjs "$PG/graphile_bench" "$JOBS" 4 24 1000 | grep "^{" | tee /tmp/graphile-bench.json

python3 - <<'PY'
import json
rows = [("bindery sqlite", "/tmp/bindery-bench-sqlite.json"), ("bindery postgres", "/tmp/bindery-bench-pg.json"),
        ("graphile-worker postgres", "/tmp/graphile-bench.json")]
print()
print(f"{'system':<26}{'jobs':>8}{'enqueue/s':>12}{'worked/s':>11}{'p50 ms':>9}{'p99 ms':>9}")
for name, path in rows:
    r = json.load(open(path))
    print(f"{name:<26}{r['jobs']:>8}{r['enqueue_per_s']:>12.0f}{r['worked_per_s']:>11.0f}{r['latency_p50_ms']:>9.2f}{r['latency_p99_ms']:>9.2f}")
PY
