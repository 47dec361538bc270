#!/usr/bin/env bash
# The HTTP service under loopback load, each figure beside its baseline in the same run:
#   - status reads with wrk (JWT and API key), beside /health (the same server, no credentials, no store) and beside
#     the same reads with the principal cache off;
#   - upload MB/s with curl, beside cp and sha256sum of the same file (an upload writes and hashes);
#   - live progress to N SSE clients while books process (`bindery bench sse`), beside one client.
# The server is `bindery serve` on the embedded SQLite and folder. Run alone on an idle machine; figures go to
# docs/benchmarks.md.
#   scripts/bench/api.sh [CLIENTS [BOOKS]]      (default 1000 clients, 10 books)
#   scripts/bench/api.sh reads                  (the status reads only)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/setup.sh
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
cargo build --release -q -p bindery -p bindery-stages
bin=$PWD/target/release/bindery
alice=${BINDERY_CORPUS:-../shared/corpus}/pdfs/en-alice-in-wonderland.pdf
only_reads=false
if [ "${1:-}" = reads ]; then only_reads=true; shift; fi
clients=${1:-1000}
books=${2:-10}
work=$(mktemp -d)
port=${BINDERY_BENCH_PORT:-18080}
base=http://127.0.0.1:$port
pid=""
stop_server() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap 'stop_server; rm -rf "$work"' EXIT
export BINDERY_DATA_DIR=$work/data
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

start_server() {
  "$bin" serve --listen "127.0.0.1:$port" --rate-limit 0 --max-upload-mb 2048 "$@" 2>"$work/serve.log" &
  pid=$!
  for _ in $(seq 100); do curl -sf "$base/ready" >/dev/null && return; sleep 0.1; done
  echo "the server did not start:" >&2; cat "$work/serve.log" >&2; exit 1
}

BINDERY_PASSWORD=bench-password-123 "$bin" user create --email bench@example.org --admin >/dev/null
start_server
token=$(curl -sf "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"email":"bench@example.org","password":"bench-password-123"}' | json '["access_token"]')
auth="Authorization: Bearer $token"
project=$(curl -sf "$base/api/v1/projects" -H "$auth" -H 'content-type: application/json' -d '{"name":"bench"}' | json '["id"]')
key=$(curl -sf "$base/api/v1/projects/$project/api-keys" -H "$auth" -H 'content-type: application/json' \
  -d '{"name":"bench","role":"viewer"}' | json '["key"]')
doc=$(curl -sf "$base/api/v1/projects/$project/documents?filename=alice.pdf" -H "$auth" --data-binary @"$alice" \
  | json '["documents"][0]["id"]')
for _ in $(seq 600); do
  status=$(curl -sf "$base/api/v1/documents/$doc" -H "$auth" | json '["status"]')
  [ "$status" = ready ] && break
  sleep 0.1
done
echo "document $doc is $status"

reads() {
  for target in "$@"; do
    IFS='|' read -r label url header <<<"$target"
    echo "-- $label"
    if [ -n "$header" ]; then
      wrk -t2 -c64 -d15s --latency -H "$header" "$url" | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx'
    else
      wrk -t2 -c64 -d15s --latency "$url" | grep -E 'Requests/sec|^ +(50|90|99)%|Non-2xx'
    fi
  done
}
echo "== status reads (wrk, 2 threads, 64 connections, 15 s each)"
reads "health|$base/health|" "document, JWT|$base/api/v1/documents/$doc|$auth" \
      "document, API key|$base/api/v1/documents/$doc|Authorization: Bearer $key"
# The same reads with the principal cache off (every read asks the store who the caller is): what the cache saves.
stop_server
start_server --principal-ttl-ms 0
reads "document, JWT, no principal cache|$base/api/v1/documents/$doc|$auth" \
      "document, API key, no principal cache|$base/api/v1/documents/$doc|Authorization: Bearer $key"
stop_server
start_server

if $only_reads; then exit 0; fi

echo "== SSE fan-out: $clients clients, $books books"
"$bin" bench sse --url "$base" --token "$token" --project "$project" --clients "$clients" --books "$books" \
  --server-pid "$pid" "$alice"
stop_server

echo "== upload (no worker, so nothing else runs)"
start_server --no-worker
big=$work/big.txt
: >"$big"
while [ "$(stat -c %s "$big")" -lt $((512 << 20)) ]; do cat ../shared/corpus/books/*.txt >>"$big"; done
size=$(stat -c %s "$big")
cat "$big" >/dev/null
TIMEFORMAT=%R
t_cp=$( { time cp "$big" "$work/copy"; } 2>&1 ); rm -f "$work/copy"
t_sha=$( { time sha256sum "$big" >/dev/null; } 2>&1 )
t_up=$(curl -sf -o /dev/null -w '%{time_total}' -X POST -T "$big" -H "$auth" \
  "$base/api/v1/projects/$project/documents?filename=big.txt")
mb=$(python3 -c "print($size / 1048576)")
python3 - "$mb" "$t_cp" "$t_sha" "$t_up" <<'EOF'
import sys
mb, *ts = map(float, sys.argv[1:])
print(f"| {mb:.0f} MiB | cp | sha256sum | upload (POST, raw body) |")
print("|---|---:|---:|---:|")
print("| MB/s | " + " | ".join(f"{mb / t:.0f}" for t in ts) + " |")
EOF
