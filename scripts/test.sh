#!/usr/bin/env bash
# Run every test against real servers it starts itself on free ports, then stop them.
# With COUCHDB_URL set (e.g. a real Apache CouchDB 3), that server is used instead.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=$(mktemp -d -t kazoo-rec-test.XXXXXX)
cleanup() {
    scripts/couchdb.sh stop "$RUN_DIR/couchdb.pid" || true
    scripts/s3.sh stop "$RUN_DIR/s3.pid" || true
    scripts/s3s.sh stop "$RUN_DIR/s3s.pid" || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT

if [ -z "${COUCHDB_URL:-}" ]; then
    port=$(scripts/free-port.sh)
    scripts/couchdb.sh start "$port" --in-memory "$RUN_DIR/couchdb.pid"
    export COUCHDB_URL="http://127.0.0.1:$port"
fi
echo "tests use CouchDB at ${COUCHDB_URL%%@*}..." >&2

# S3-compatible servers: moto (accepts any credentials, for round trips) and s3s-fs
# (checks signatures, for the wrong-secret probe). With S3_URL / S3_SIG_URL set, those are used.
if [ -z "${S3_URL:-}" ]; then
    port=$(scripts/free-port.sh)
    scripts/s3.sh start "$port" "$RUN_DIR/s3.pid"
    export S3_URL="http://127.0.0.1:$port"
fi
if [ -z "${S3_SIG_URL:-}" ]; then
    port=$(scripts/free-port.sh)
    scripts/s3s.sh start "$port" "$RUN_DIR/s3s-data" "$RUN_DIR/s3s.pid"
    export S3_SIG_URL="http://127.0.0.1:$port"
fi

cargo build --all-targets
cargo test --all-targets -- --test-threads="${TEST_THREADS:-4}"
