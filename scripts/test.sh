#!/usr/bin/env bash
# Run every test against real servers it starts itself on free ports, then stop them.
# With COUCHDB_URL set (e.g. a real Apache CouchDB 3), that server is used instead.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=$(mktemp -d -t kazoo-rec-test.XXXXXX)
cleanup() {
    scripts/couchdb.sh stop "$RUN_DIR/couchdb.pid" || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT

if [ -z "${COUCHDB_URL:-}" ]; then
    port=$(scripts/free-port.sh)
    scripts/couchdb.sh start "$port" --in-memory "$RUN_DIR/couchdb.pid"
    export COUCHDB_URL="http://127.0.0.1:$port"
fi
echo "tests use CouchDB at ${COUCHDB_URL%%@*}..." >&2

cargo build --all-targets
cargo test --all-targets -- --test-threads="${TEST_THREADS:-4}"
