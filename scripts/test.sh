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
    scripts/ftp.sh stop "$RUN_DIR/ftp.pid" || true
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

# FTP + explicit FTPS (pyftpdlib, user rec/recpw) for the ftp delivery tests; after s3.sh,
# which may rebuild the shared venv. With FTP_URL set, that server is used.
if [ -z "${FTP_URL:-}" ]; then
    port_ftp=$(scripts/free-port.sh)
    port_ftps=$(scripts/free-port.sh)
    while [ "$port_ftps" = "$port_ftp" ]; do port_ftps=$(scripts/free-port.sh); done
    scripts/ftp.sh start "$port_ftp" "$port_ftps" "$RUN_DIR/ftp" "$RUN_DIR/ftp.pid"
    export FTP_URL="ftp://127.0.0.1:$port_ftp" FTPS_URL="ftps://127.0.0.1:$port_ftps"
    export FTP_ROOT="$RUN_DIR/ftp/root" FTPS_CA="$RUN_DIR/ftp/ca.pem"
fi

# Test spools and other temporary files go to the run's folder, removed on exit.
mkdir -p "$RUN_DIR/tmp"
export TMPDIR="$RUN_DIR/tmp"

if [ "$#" -gt 0 ]; then
    # A subset of the API tests with their output shown, e.g. `make faults`.
    cargo test --test api -- --nocapture --test-threads=1 "$@"
else
    cargo build --all-targets
    cargo test --all-targets -- --test-threads="${TEST_THREADS:-4}"
fi
