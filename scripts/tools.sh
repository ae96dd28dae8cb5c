#!/usr/bin/env bash
# Install the local servers the service and its tests use, pinned, into .tools/ (git-ignored).
# Idempotent: does nothing when they are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$PWD/.tools"
mkdir -p "$TOOLS"

POUCHDB_SERVER_VERSION=4.2.0

if [ ! -x "$TOOLS/node_modules/.bin/pouchdb-server" ]; then
    echo "installing pouchdb-server@$POUCHDB_SERVER_VERSION (CouchDB protocol server) ..." >&2
    command -v npm >/dev/null || { echo "npm is required (Node.js 18+)" >&2; exit 1; }
    # leveldown ships prebuilt binaries, so install scripts are not needed (and npm 11 skips them).
    (cd "$TOOLS" && npm install --no-audit --no-fund --ignore-scripts "pouchdb-server@$POUCHDB_SERVER_VERSION" >&2)
fi
