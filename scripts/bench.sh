#!/usr/bin/env bash
# Benchmarks: the service against the raw servers, figures printed (nothing asserted).
#   scripts/bench.sh [kazoo-rec bench options, e.g. --only api,decision --recordings 20000]
# Starts an in-memory pouchdb-server and s3s-fs (disk-backed, checks signatures) on free
# ports unless COUCHDB_URL / S3_URL are set (e.g. a real Apache CouchDB 3 and real S3; then
# pass --s3-key/--s3-secret), builds the release binary and runs `kazoo-rec bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN_DIR=$(mktemp -d -t kazoo-rec-bench.XXXXXX)
cleanup() {
    scripts/couchdb.sh stop "$RUN_DIR/couchdb.pid" || true
    scripts/s3s.sh stop "$RUN_DIR/s3s.pid" || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
if [ -z "${COUCHDB_URL:-}" ]; then
    port=$(scripts/free-port.sh)
    scripts/couchdb.sh start "$port" --in-memory "$RUN_DIR/couchdb.pid"
    export COUCHDB_URL="http://127.0.0.1:$port"
fi
if [ -z "${S3_URL:-}" ]; then
    port=$(scripts/free-port.sh)
    scripts/s3s.sh start "$port" "$RUN_DIR/s3s-data" "$RUN_DIR/s3s.pid"
    export S3_URL="http://127.0.0.1:$port"
fi
cargo build --release
target/release/kazoo-rec bench "$@"
