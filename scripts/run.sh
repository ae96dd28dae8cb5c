#!/usr/bin/env bash
# Run the service on port 8000. Without COUCHDB_URL, a local CouchDB-protocol server is
# installed and started with its data in .data/couchdb (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${COUCHDB_URL:-}" ]; then
    pidfile=.data/couchdb.pid
    mkdir -p .data
    if ! curl -fsS http://127.0.0.1:5984/ >/dev/null 2>&1; then
        scripts/couchdb.sh start 5984 "$PWD/.data/couchdb" "$pidfile"
        trap 'scripts/couchdb.sh stop "$PWD/.data/couchdb.pid"' EXIT
    fi
    export COUCHDB_URL=http://127.0.0.1:5984
fi
cargo build --release
./target/release/kazoo-rec serve "$@"
