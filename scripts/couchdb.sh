#!/usr/bin/env bash
# Start a local CouchDB-protocol server (pouchdb-server) and wait until it answers.
#   scripts/couchdb.sh start PORT DATA_DIR|--in-memory PIDFILE
#   scripts/couchdb.sh stop PIDFILE
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-}
case "$cmd" in
start)
    port=$2; where=$3; pidfile=$4
    scripts/tools.sh
    if [ "$where" = "--in-memory" ]; then
        storage=(--in-memory)
        log="$(mktemp -d -t pouchdb.XXXXXX)/pouchdb-server.log"
    else
        mkdir -p "$where"
        storage=(--dir "$where")
        log="$where/pouchdb-server.log"
    fi
    # Run from the log's folder: pouchdb-server writes its config.json and log.txt to the
    # working directory.
    bin="$PWD/.tools/node_modules/.bin/pouchdb-server"
    (cd "$(dirname "$log")" && exec nohup "$bin" -o 127.0.0.1 -p "$port" "${storage[@]}" -n >"$log" 2>&1) &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
        if curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1; then exit 0; fi
        sleep 0.2
    done
    echo "pouchdb-server did not start; log: $log" >&2
    cat "$log" >&2
    exit 1
    ;;
stop)
    pidfile=$2
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
    ;;
*)
    echo "usage: $0 start PORT DIR|--in-memory PIDFILE | stop PIDFILE" >&2; exit 2 ;;
esac
