#!/usr/bin/env bash
# API fuzzing: schemathesis against the real service, one command.
#   scripts/fuzz-api.sh [--requests N] [--seed S] [--keep]
#     --requests N  at least N generated requests in all (default 10000)
#     --seed S      hypothesis seed (default: random; printed, rerun with it to replay)
#     --keep        keep the run folder (logs, request log, seed ids) even on success
# Installs schemathesis (pinned, scripts/fuzz/requirements.txt) into .tools/fuzz-venv and
# builds the release binary. Then, in a private network namespace with only loopback (the
# fuzzer writes recording and storage URLs that the service then tries to deliver to: none
# of that may leave the machine; needs root, as on the project's machines): an in-memory
# pouchdb-server and `kazoo-rec serve` on free ports; an account seeded through the API
# with users, devices, callflows, queues, recordings, CDRs… (scripts/fuzz/seed.py); `st run`
# over GET /v2/rec_ext/openapi.json with scripts/fuzz/hooks.py (seeded ids for the path
# parameters, credentials, realistic values, a log of every request), positive and negative
# data and stateful links, two st processes side by side on halves of the operations;
# rounds with new seeds until N requests were sent or the fuzzing time budget is spent.
# Then every document is checked for half-written state (scripts/fuzz/check_docs.py), the
# service log for panics, and scripts/fuzz/report.py prints each finding with a curl
# command that replays it, and the summary.
# Exit status 0 only with no 5xx (crossbar's deliberate 500 account_has_descendants aside),
# no unanswered request, no panic, no half-written document and at least N requests.
# Environment: FUZZ_BUDGET_S (fuzzing time budget, default 900 s, counted after the build
# and the seeding), FUZZ_WORKERS (threads per st process, default 1), FUZZ_LOG_ALL=1 (the
# request log keeps every request and answer in full, not only the 5xx ones).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PYTHONDONTWRITEBYTECODE=1
REQUESTS=10000
SEED=""
KEEP=""
usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
    --requests) REQUESTS=${2:?--requests needs a number}; shift 2 ;;
    --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
case "$REQUESTS" in '' | *[!0-9]*) echo "--requests: not a number: $REQUESTS" >&2; exit 2 ;; esac
[ -n "$SEED" ] || SEED=$(( (RANDOM << 15) | RANDOM ))
VENV="$ROOT/.tools/fuzz-venv"
BUDGET_S=${FUZZ_BUDGET_S:-900}
# Threads per st process (two processes run side by side, see below).
WORKERS=${FUZZ_WORKERS:-1}
# The operations of the first st process; the second one takes the others.
SPLIT='^/v2/accounts/\{ACCOUNT_ID\}/(users|devices|callflows|queues|storage|recordings|cdrs|att_handlers_errors)'

if [ -z "${KAZOO_REC_FUZZ_NETNS:-}" ]; then
    # ---- 1. what needs the network: tools, the pinned fuzzer, the release build
    STARTED=$(date +%s)
    scripts/tools.sh
    want=$(sha256sum scripts/fuzz/requirements.txt | cut -d' ' -f1)
    if [ ! -x "$VENV/bin/st" ] || [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
        echo "installing schemathesis (pinned, scripts/fuzz/requirements.txt) into $VENV ..." >&2
        rm -rf "$VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/fuzz/requirements.txt >&2
        echo "$want" >"$VENV/.requirements.sha256"
    fi
    # Someone may be half-way through an edit of src/: retry a failed build a few times.
    for attempt in 1 2 3 4 5; do
        if cargo build --release; then break; fi
        [ "$attempt" = 5 ] && { echo "cargo build --release failed $attempt times" >&2; exit 1; }
        echo "build failed; retrying in 60 s (attempt $attempt)" >&2
        sleep 60
    done
    # ---- 2. the rest with no network but loopback
    if ! unshare --net true 2>/dev/null; then
        echo "cannot create a network namespace (unshare --net; run as root): the fuzzer" >&2
        echo "makes the service deliver to arbitrary URLs, which must not leave this machine" >&2
        exit 1
    fi
    exec unshare --net -- env KAZOO_REC_FUZZ_NETNS=1 KAZOO_REC_FUZZ_STARTED="$STARTED" \
        "$0" --requests "$REQUESTS" --seed "$SEED" ${KEEP:+--keep}
fi

ip link set lo up
STARTED=${KAZOO_REC_FUZZ_STARTED:-$(date +%s)}
RUN_DIR=$(mktemp -d -t kazoo-rec-fuzz.XXXXXX)
SVC_PID=""
ST_PIDS=""
RESULT=1
cleanup() {
    for pid in $ST_PIDS; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    if [ -n "$SVC_PID" ]; then kill "$SVC_PID" 2>/dev/null || true; wait "$SVC_PID" 2>/dev/null || true; fi
    scripts/couchdb.sh stop "$RUN_DIR/couchdb.pid" || true
    if [ "$RESULT" = 0 ] && [ -z "$KEEP" ]; then
        rm -rf "$RUN_DIR"
    else
        echo "run folder kept: $RUN_DIR (service.log, requests.jsonl, schemathesis-*.log, seed.json)"
    fi
}
trap cleanup EXIT

port=$(scripts/free-port.sh)
scripts/couchdb.sh start "$port" --in-memory "$RUN_DIR/couchdb.pid"
COUCH="http://127.0.0.1:$port"
port=$(scripts/free-port.sh)
BASE="http://127.0.0.1:$port"
ADMIN_PW="fuzz-master-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
MEDIA_USER=mediaserver
MEDIA_PW="fuzz-media-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Ingest only with the basic credentials (the allowed network is one no peer has here);
# failed logins do not lock the run out of minting tokens; no retention job of its own.
env COUCHDB_URL="$COUCH" KAZOO_REC_BIND="127.0.0.1:$port" \
    KAZOO_REC_SPOOL_DIR="$RUN_DIR/spool" KAZOO_REC_ADMIN_PASSWORD="$ADMIN_PW" \
    KAZOO_REC_RETENTION_INTERVAL=0 KAZOO_REC_INGEST_USER="$MEDIA_USER" \
    KAZOO_REC_INGEST_PASSWORD="$MEDIA_PW" KAZOO_REC_INGEST_ACL=192.0.2.1/32 \
    KAZOO_REC_LOGIN_FAILURES_PER_ADDR=1000000 NO_COLOR=1 RUST_BACKTRACE=1 \
    target/release/kazoo-rec serve >"$RUN_DIR/service.log" 2>&1 &
SVC_PID=$!

PY="$VENV/bin/python"
"$PY" scripts/fuzz/seed.py --base "$BASE" --admin-password "$ADMIN_PW" \
    --media-user "$MEDIA_USER" --media-password "$MEDIA_PW" \
    --kazoo-rec "$ROOT/target/release/kazoo-rec" --couchdb-url "$COUCH" \
    --work "$RUN_DIR" --out "$RUN_DIR/seed.json"

# ---- 3. the fuzzing rounds
ops=$(curl -fsS "$BASE/v2/rec_ext/openapi.json" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for item in d["paths"].values() for m in item if m in ("get", "put", "post", "patch", "delete")))')
FUZZ_STARTED=$(date +%s)
LOG="$RUN_DIR/requests.jsonl"
: >"$LOG"
sent() { grep -c '"ev": "\(resp\|no_response\)"' "$LOG" || true; }
round=0
st_status=0
prev_n=-1
while :; do
    done_n=$(sent)
    [ "$done_n" -ge "$REQUESTS" ] && break
    if ! kill -0 "$SVC_PID" 2>/dev/null; then
        echo "the service is gone after $done_n requests; see $RUN_DIR/service.log" >&2
        break
    fi
    if [ "$done_n" = "$prev_n" ]; then
        echo "round $round sent no request; see $RUN_DIR/schemathesis-$round?.log" >&2
        st_status=2
        break
    fi
    prev_n=$done_n
    elapsed=$(( $(date +%s) - FUZZ_STARTED ))
    left=$(( BUDGET_S - elapsed ))
    if [ "$left" -le 30 ]; then
        echo "time budget spent after $done_n requests (FUZZ_BUDGET_S=$BUDGET_S)" >&2
        break
    fi
    round=$((round + 1))
    # Examples per operation for what is missing. Positive and negative data and the
    # stateful follow-ups make it about 1.2 requests per example: ask for a bit less than an
    # even share, so that the round ends by itself (a round cut by the time budget leaves
    # the operations at its end untested); the next round tops up.
    per_op=$(( ( (REQUESTS - done_n) * 85 / 100 + ops - 1) / ops ))
    [ "$per_op" -ge 5 ] || per_op=5
    seed=$((SEED + round - 1))
    echo "== round $round: seed $seed, up to $per_op examples per operation ($ops operations), $done_n requests so far"
    # Two st processes side by side, each on its half of the operations: generating data
    # is what takes schemathesis the time (one core each; its --workers are threads).
    ST_PIDS=""
    for half in a b; do
        if [ "$half" = a ]; then filter=(--include-path-regex "$SPLIT"); else filter=(--exclude-path-regex "$SPLIT"); fi
        (cd "$RUN_DIR" && exec timeout --foreground --signal=INT --kill-after=30 "$left" env \
            PYTHONPATH="$ROOT/scripts/fuzz" SCHEMATHESIS_HOOKS=hooks FUZZ_GROUP="$round$half" \
            FUZZ_SEED_FILE="$RUN_DIR/seed.json" FUZZ_REQUEST_LOG="$LOG" \
            "$VENV/bin/st" run "$BASE/v2/rec_ext/openapi.json" --base-url "$BASE" "${filter[@]}" \
            --checks kazoo_not_a_server_error --data-generation-method all --stateful links \
            --hypothesis-max-examples "$per_op" --hypothesis-seed "$seed" \
            --hypothesis-database none --hypothesis-deadline 300000 \
            --hypothesis-suppress-health-check all --experimental-no-failfast \
            --workers "$WORKERS" --request-timeout 30000 --no-color --code-sample-style curl \
            --junit-xml "$RUN_DIR/junit-$round$half.xml" \
            >"$RUN_DIR/schemathesis-$round$half.log" 2>&1) &
        ST_PIDS="$ST_PIDS $!"
    done
    stop_round=""
    for pid in $ST_PIDS; do
        rc=0
        wait "$pid" || rc=$?
        # 0: clean; 1: failures found (reported below from the request log); 124: stopped
        # at the time budget; anything else is trouble.
        case "$rc" in
        0 | 1) ;;
        124) stop_round="time budget" ;;
        *) st_status=$rc; stop_round="st run ended with status $rc" ;;
        esac
    done
    ST_PIDS=""
    for half in a b; do
        echo "-- $round$half: $(grep -E '^=+ .* in [0-9.]+s =+$' "$RUN_DIR/schemathesis-$round$half.log" | tr -d '=' | sed 's/^ *//')"
    done
    if [ -n "$stop_round" ]; then
        echo "round $round: $stop_round; see $RUN_DIR/schemathesis-$round?.log" >&2
        break
    fi
done

# ---- 4. let in-flight deliveries settle; check the documents (the listings through the
# service, then the database), then stop the service
sleep 3
docs_rc=0
"$PY" scripts/fuzz/check_docs.py --couchdb-url "$COUCH" --spool "$RUN_DIR/spool" \
    --api "$BASE" --seed "$RUN_DIR/seed.json" --json "$RUN_DIR/docs.json" || docs_rc=$?
alive=1
kill -0 "$SVC_PID" 2>/dev/null || alive=0
kill "$SVC_PID" 2>/dev/null || true
wait "$SVC_PID" 2>/dev/null || true
SVC_PID=""

# ---- 5. the summary
report_rc=0
"$PY" scripts/fuzz/report.py --log "$LOG" --service-log "$RUN_DIR/service.log" \
    --docs "$RUN_DIR/docs.json" --started "$STARTED" --fuzz-started "$FUZZ_STARTED" --seed "$SEED" --rounds "$round" \
    --service-alive "$alive" --min-requests "$REQUESTS" --operations "$ops" || report_rc=$?
if [ "$st_status" = 0 ] && [ "$docs_rc" = 0 ] && [ "$report_rc" = 0 ]; then
    RESULT=0
fi
exit "$RESULT"
