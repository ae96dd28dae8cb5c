#!/usr/bin/env bash
# Start a signature-checking S3-compatible server (s3s-fs) for the wrong-secret storage test,
# and wait until it answers. Credentials are fixed: access key `testkey`, secret `testsecret`.
#   scripts/s3s.sh start PORT DATA_DIR PIDFILE   -> then export S3_SIG_URL=http://127.0.0.1:PORT
#   scripts/s3s.sh stop PIDFILE
# s3s-fs is built from crates.io into .tools/s3s (git-ignored) on first use; that takes about
# 7 minutes on 2 cores. 0.14.1 is the newest release that builds with this machine's rustc.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD/.tools/s3s"
VERSION=0.14.1

install() {
    if [ -x "$ROOT/bin/s3s-fs" ]; then return; fi
    echo "building s3s-fs $VERSION (signature-checking S3 server) into $ROOT ..." >&2
    command -v cargo >/dev/null || { echo "cargo is required" >&2; exit 1; }
    # Its own target dir, removed afterwards: keeps the project's target/ untouched.
    local target
    target=$(mktemp -d -t s3s-build.XXXXXX)
    CARGO_TARGET_DIR="$target" cargo install s3s-fs --version "$VERSION" --locked \
        --features binary --root "$ROOT" >&2
    rm -rf "$target"
}

cmd=${1:-}
case "$cmd" in
start)
    port=${2:?port}; data=${3:?data dir}; pidfile=${4:?pidfile}
    install
    mkdir -p "$data"
    log="$data.s3s-fs.log"
    nohup "$ROOT/bin/s3s-fs" --host 127.0.0.1 --port "$port" \
        --access-key testkey --secret-key testsecret "$data" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
        # Unsigned requests are refused with 403, which still proves it is serving.
        if curl -sS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then exit 0; fi
        if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "s3s-fs did not start; log: $log" >&2
    cat "$log" >&2
    exit 1
    ;;
stop)
    pidfile=${2:?pidfile}
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
    ;;
install)
    install
    ;;
*)
    echo "usage: $0 start PORT DATA_DIR PIDFILE | stop PIDFILE | install" >&2; exit 2 ;;
esac
