#!/usr/bin/env bash
# Start a local S3-compatible server (moto) for the storage backend tests, and wait until it answers.
#   scripts/s3.sh start PORT PIDFILE    -> then export S3_URL=http://127.0.0.1:PORT
#   scripts/s3.sh stop PIDFILE
# moto accepts any credentials and keeps objects in memory; a wrong-secret check needs a
# signature-checking server instead. The venv lives in .tools/venv (git-ignored) and is created
# on first use with every package pinned, so the server is the same on every machine.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/.tools/venv"

# moto[server]==5.2.5 and the exact versions it resolved to (pip freeze), so nothing floats.
requirements() {
    cat <<'REQ'
moto[server]==5.2.5
annotated-types==0.8.0
antlr4-python3-runtime==4.13.2
attrs==26.1.0
aws-xray-sdk==2.15.0
blinker==1.9.0
boto3==1.44.8
botocore==1.44.8
certifi==2026.10.19.post1
cffi==2.1.1
cfn-lint==1.58.0
charset-normalizer==3.5.3
click==8.5.1
cryptography==50.0.2
docker==7.2.0
Flask==3.1.3
flask-cors==6.0.5
graphql-core==3.3.2
idna==3.20
itsdangerous==2.2.0
Jinja2==3.1.6
jmespath==1.1.0
joserfc==1.8.0
jsonpatch==1.48
jsonpath-ng==1.16.0
jsonpointer==3.12
jsonschema==4.26.0
jsonschema-path==0.5.0
jsonschema-specifications==2025.9.1
lazy-object-proxy==1.13.0
MarkupSafe==3.0.4
mpmath==1.3.0
networkx==3.6.1
openapi-schema-validator==0.9.0
openapi-spec-validator==0.9.0
pathable==0.6.0
py-partiql-parser==0.6.3
pycparser==3.12
pydantic==2.14.4
pydantic-settings==2.16.3
pydantic_core==2.50.5
pyparsing==3.3.3
python-dateutil==2.9.0.post0
python-dotenv==1.2.4
PyYAML==6.0.4
referencing==0.37.0
regex==2026.11.19
requests==2.34.2
responses==0.26.3
rfc3339-validator==0.1.4
rpds-py==2026.9.1
s3transfer==0.19.3
six==1.17.0
sympy==1.14.0
typing-inspection==0.4.5
typing_extensions==4.16.0
urllib3==2.8.0
Werkzeug==3.1.9
wrapt==2.5.2
xmltodict==1.0.4
REQ
}

install() {
    if [ -x "$VENV/bin/moto_server" ]; then return; fi
    echo "installing moto[server] 5.2.5 (S3-compatible test server) into $VENV ..." >&2
    command -v python3 >/dev/null || { echo "python3 (3.9+, with venv) is required" >&2; exit 1; }
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    requirements >"$VENV/requirements.txt"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$VENV/requirements.txt" >&2
}

cmd=${1:-}
case "$cmd" in
start)
    port=${2:?port}; pidfile=${3:?pidfile}
    install
    log=$(mktemp -t moto.XXXXXX.log)
    nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 150); do
        # Any HTTP answer means it is serving (moto answers / with a bucket list).
        if curl -sS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then exit 0; fi
        if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
        sleep 0.2
    done
    echo "moto_server did not start; log: $log" >&2
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
    echo "usage: $0 start PORT PIDFILE | stop PIDFILE | install" >&2; exit 2 ;;
esac
