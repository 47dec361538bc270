#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need (system
# packages, the s3s-fs S3 server, schemathesis), makes sure the local PostgreSQL, Redis and
# NATS (JetStream) are up, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/install-s3s-fs.sh
# The API contract test (crates/bindery/tests/serve_cli.rs) runs schemathesis.
BINDERY_SCHEMATHESIS="$(scripts/install-schemathesis.sh)"
export BINDERY_SCHEMATHESIS
export PATH="$HOME/.cargo/bin:$PATH"

export BINDERY_TEST_DATABASE_URL="${BINDERY_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! up 5432 && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! up 6379 && command -v redis-server >/dev/null; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi
if ! up 4222 && command -v nats-server >/dev/null; then
  (nats-server -a 127.0.0.1 -p 4222 -js -sd /tmp/bindery-nats >/dev/null 2>&1 &) || true
  sleep 1
fi
# Drop schemas left by earlier test runs (each test makes its own bt_* schema).
psql -q "$BINDERY_TEST_DATABASE_URL" -v ON_ERROR_STOP=0 -c "
  DO \$\$ DECLARE s text; BEGIN
    FOR s IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bt\_%' LOOP
      EXECUTE format('DROP SCHEMA %I CASCADE', s);
    END LOOP; END \$\$;" >/dev/null 2>&1 || true

cargo test --workspace --locked --no-fail-fast "$@"
