#!/usr/bin/env bash
# Start a local FTP + explicit-FTPS server (pyftpdlib) for the ftp delivery tests, and wait
# until both ports answer.
#   scripts/ftp.sh start PORT_FTP PORT_FTPS DIR PIDFILE
#       -> then export FTP_URL=ftp://127.0.0.1:PORT_FTP FTPS_URL=ftps://127.0.0.1:PORT_FTPS
#          FTP_ROOT=DIR/root FTPS_CA=DIR/ca.pem
#   scripts/ftp.sh stop PIDFILE
# One user, `rec` / `recpw`, with write access to DIR/root (any other login fails). DIR also gets
# a throwaway test CA and a server certificate for 127.0.0.1 signed by it, and the generated
# server script. Packages are pinned and installed into the shared .tools/venv (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FTP_VENV:-$PWD/.tools/venv}"
PYFTPDLIB=2.2.0
PYOPENSSL=26.4.0 # needs cryptography >=49,<51 (the venv pins cryptography 50.0.2)

install() {
    if "$VENV/bin/python" -c "import pyftpdlib, OpenSSL, sys
sys.exit(pyftpdlib.__ver__ != '$PYFTPDLIB' or OpenSSL.__version__ != '$PYOPENSSL')" 2>/dev/null; then
        return
    fi
    command -v python3 >/dev/null || { echo "python3 (3.9+, with venv) is required" >&2; exit 1; }
    if [ ! -x "$VENV/bin/pip" ]; then python3 -m venv "$VENV"; fi
    echo "installing pyftpdlib $PYFTPDLIB + pyopenssl $PYOPENSSL into $VENV ..." >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "pyftpdlib==$PYFTPDLIB" "pyopenssl==$PYOPENSSL" >&2
}

# A test CA, and a server certificate (CA:FALSE, SAN IP:127.0.0.1 + localhost) signed by it.
certs() {
    local dir=$1
    [ -s "$dir/server.pem" ] && [ -s "$dir/ca.pem" ] && return
    command -v openssl >/dev/null || { echo "the openssl command is required" >&2; exit 1; }
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=kazoo-rec test CA" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    cat >"$dir/server.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EXT
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 3650 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
    cat "$dir/server.crt" "$dir/server.key" >"$dir/server.pem"
}

server_script() {
    cat <<'PY'
"""FTP (argv[1]) and explicit FTPS (argv[2]) on 127.0.0.1, one user rec/recpw on argv[3]/root."""
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer

port_ftp, port_ftps, base = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
root = os.path.join(base, "root")
os.makedirs(root, exist_ok=True)
auth = DummyAuthorizer()
auth.add_user("rec", "recpw", root, perm="elradfmwMT")


class Plain(FTPHandler):
    authorizer = auth


class Secure(TLS_FTPHandler):
    authorizer = auth
    certfile = os.path.join(base, "server.pem")
    tls_control_required = True
    tls_data_required = True


# Both servers register with the same (singleton) IOLoop, so one loop serves both ports.
plain = FTPServer(("127.0.0.1", port_ftp), Plain)
secure = FTPServer(("127.0.0.1", port_ftps), Secure)
secure.serve_forever()
PY
}

cmd=${1:-}
case "$cmd" in
start)
    port_ftp=${2:?port_ftp}; port_ftps=${3:?port_ftps}; dir=${4:?dir}; pidfile=${5:?pidfile}
    install
    mkdir -p "$dir/root"
    dir=$(cd "$dir" && pwd)
    certs "$dir"
    server_script >"$dir/ftp_server.py"
    log="$dir/ftp_server.log"
    nohup "$VENV/bin/python" "$dir/ftp_server.py" "$port_ftp" "$port_ftps" "$dir" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 150); do
        # Both ports answer with a 220 greeting once the server is up.
        if "$VENV/bin/python" - "$port_ftp" "$port_ftps" 2>/dev/null <<'PY'; then exit 0; fi
import socket, sys
for p in sys.argv[1:]:
    with socket.create_connection(("127.0.0.1", int(p)), timeout=1) as s:
        s.settimeout(2)
        if not s.recv(64).startswith(b"220"):
            sys.exit(1)
PY
        if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then break; fi
        sleep 0.2
    done
    echo "ftp server did not start; log: $log" >&2
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
    echo "usage: $0 start PORT_FTP PORT_FTPS DIR PIDFILE | stop PIDFILE | install" >&2; exit 2 ;;
esac
