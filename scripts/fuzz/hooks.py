"""schemathesis 3.39 hooks for fuzzing kazoo-rec (loaded by scripts/fuzz-api.sh through
SCHEMATHESIS_HOOKS=hooks with this folder on PYTHONPATH).

- Path parameters: mostly ids of the data seed.py created (FUZZ_SEED_FILE), so requests
  reach real handlers; now and then what schemathesis generated. Writes to an account itself
  (POST/PATCH/DELETE /v2/accounts/{ACCOUNT_ID}) go to child accounts made for that, DELETEs
  of documents to spare ones, writes to a user never to the admin whose token the run uses:
  the run keeps its credentials and its data. What an account holds is asked of accounts
  that are never deleted (pouchdb-server misbehaves when a database is read while another
  st process deletes it: "database is closed", and an empty copy stays).
- Credentials: the seeded admin's X-Auth-Token for crossbar (sometimes the master's, or
  what was generated); HTTP basic for the media-server endpoints. DELETE /v2/token_auth gets
  a token of its own, minted just before, so revoking it does not end the run.
- Realistic values mixed into the generated ones: query parameters of listings, the ingest
  metadata header and audio, bodies of the decision and CDR endpoints, queue rosters,
  logins (right credentials only), whitelabel images and html.
- Request bodies described as {"data": …} get `data` required (else most are a plain 400);
  self-referencing schemas are unrolled one level (schemathesis 3 cannot generate them); the
  media-server endpoints are tested first, so that recordings and CDRs land in child
  accounts before those are deleted.
- Links between create and read/update/delete operations, for schemathesis' stateful
  (`--stateful=links`) follow-up tests.
- Check `kazoo_not_a_server_error`: any 5xx fails, except crossbar's deliberate
  500 `account_has_descendants` (KAZOO answers so; compat-fixtures/accounts/crud.json).
- Every request and its outcome go to FUZZ_REQUEST_LOG (JSON lines; in full for a 5xx, a
  request without an answer, or everything with FUZZ_LOG_ALL=1): report.py counts them and
  prints each finding with a curl command that replays it. Each request goes on a fresh
  connection (see before_call).
"""

import atexit
import base64
import hashlib
import json
import os
import shlex
import threading
import time
import urllib.request

import requests
import schemathesis
from hypothesis import strategies as st

SEED = json.load(open(os.environ["FUZZ_SEED_FILE"]))
LOG_PATH = os.environ["FUZZ_REQUEST_LOG"]
A = SEED["account_id"]
TOKEN = SEED["token"]
BASIC = "Basic " + base64.b64encode(
    f"{SEED['media_user']}:{SEED['media_password']}".encode()
).decode()
WRITE = {"POST", "PUT", "PATCH", "DELETE"}
GROUP = os.environ.get("FUZZ_GROUP", "")  # tells apart the requests of concurrent st processes


def weighted(real, percent, otherwise=st.none()):
    """`real` (a list of values or a strategy) `percent`% of the time, else `otherwise`."""
    if isinstance(real, (list, tuple)):
        if not real:
            return otherwise
        real = st.sampled_from(list(real))
    return st.integers(0, 99).flatmap(lambda i: real if i < percent else otherwise)


# ---------------------------------------------------------------- path parameters

SINGLES = ("/whitelabel", "/storage", "/metaflows", "/whitelabel/logo", "/whitelabel/icon",
           "/whitelabel/welcome")


def account_choice(method, path):
    kids = SEED["children"] + SEED["grandchildren"]
    if path == "/v2/accounts/{ACCOUNT_ID}" and method in ("POST", "PATCH", "DELETE"):
        # The account itself changes or goes: only the children made for that.
        return weighted(kids, 90)
    if path == "/v2/accounts/{ACCOUNT_ID}" and method == "GET":
        return weighted([A] * 3 + SEED["stable_children"] + kids, 90)
    if path.startswith("/v2/accounts/{ACCOUNT_ID}") and path.endswith(SINGLES):
        # An account's single documents: deleted on the account kept for that (seed.py),
        # so that A keeps its own for the other requests.
        if method == "DELETE":
            return weighted([SEED["singles_account"]], 85)
        return weighted([A, SEED["singles_account"]], 85)
    # What an account holds: accounts that are never deleted (see seed.py), now and then
    # the master (403 for this token).
    return st.integers(0, 99).flatmap(
        lambda i: st.just(A) if i < 75
        else st.sampled_from(SEED["stable_children"]) if i < 87
        else st.just(SEED["master_id"]) if i < 90
        else st.none()
    )


def path_choice(method, path, name):
    """Strategy for one path parameter: a seeded id, or None to keep the generated value.
    A DELETE takes the spare documents seed.py made for that (the others stay for the other
    requests); a write to a user never the admin whose token the run uses."""
    if name == "ACCOUNT_ID":
        return account_choice(method, path)
    if name == "account_id":
        # Media-server endpoints: they run first (see order_paths), in the st process that
        # later deletes the children, so a recording or CDR of a deleted account is tried.
        return weighted([A] * 6 + SEED["stable_children"] + SEED["children"][2:], 90)
    delete = method == "DELETE" and not path.endswith("/roster")
    if name == "U":
        if delete:
            return weighted(SEED["spare_users"], 85)
        if method in WRITE:
            return weighted(SEED["users"] + SEED["spare_users"], 85)
        return weighted([SEED["admin_user_id"]] + SEED["users"], 85)
    if name == "C" and "/callflows/" in path:
        return weighted(SEED["spare_callflows"] if delete else SEED["callflows"], 85)
    if name == "R" and delete:
        return weighted(SEED["spare_recordings"], 85)
    if name == "Q":
        return weighted(SEED["spare_queues"] if delete or path.endswith("/roster") and method == "DELETE"
                        else SEED["queues"], 85)
    if name == "D":
        return weighted(SEED["spare_devices"] if delete else SEED["devices"], 85)
    table = {
        "C": SEED["cdrs"],
        "R": SEED["recordings"],
        "P": SEED["apps"],
        "N": ["0", "1", "2"],
        "E": SEED["att_errors"],
        "L": SEED["legs"],
        "T": [TOKEN],
        "W": SEED["domains"],
    }
    return weighted(table.get(name, []), 85)


@schemathesis.hook
def before_generate_path_parameters(context, strategy):
    op = context.operation
    names = [p.name for p in op.path_parameters]
    if not names:
        return strategy
    picks = st.fixed_dictionaries({n: path_choice(op.method.upper(), op.path, n) for n in names})

    def merge(pair):
        generated, chosen = pair
        if generated is None:
            return generated
        out = dict(generated)
        for k, v in chosen.items():
            # Only what was generated: a stateful follow-up test fixes some parameters
            # from an earlier response, and those are not in `generated`.
            if v is not None and k in out:
                out[k] = v
        return out

    return st.tuples(strategy, picks).map(merge)


# ---------------------------------------------------------------- headers (credentials)

def crossbar_token():
    return st.integers(0, 99).flatmap(
        lambda i: st.just(TOKEN) if i < 90
        else st.just(SEED["master_token"]) if i < 95
        else st.none()
    )


def recording_metadata():
    text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
    anything = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(text, kids, max_size=3),
        max_leaves=6,
    )
    month = st.integers(0, 99).map(lambda m: f"{time.gmtime().tm_year:04d}{m:02d}")
    fields = {
        "format": st.sampled_from(["mp3", "wav", "mp4", "ogg", ""]),
        "duration_ms": st.integers(0, 10**7) | st.integers(),
        "start": st.integers(63_800_000_000, 64_000_000_000) | st.integers(),
        "record_min_sec": st.integers(0, 20) | st.integers(),
        "recording_id": st.tuples(month, st.text("0123456789abcdef", min_size=1, max_size=32)).map("-".join)
        | text,
        "media_name": st.sampled_from(["a.mp3", "rec.wav", "x", "", "../x.mp3", "a/b.mp3"]) | text,
        "owner_id": st.sampled_from(SEED["users"] + [SEED["admin_user_id"]]) | text,
        "endpoint_id": st.sampled_from(SEED["devices"]) | text,
        "direction": st.sampled_from(["inbound", "outbound"]) | text,
        "from": text, "to": text, "request": text,
        "caller_id_name": text, "caller_id_number": text,
        "callee_id_name": text, "callee_id_number": text,
        "cdr_id": text, "interaction_id": text, "origin": text,
        # Destinations that cannot be reached (the run has only loopback) or are refused.
        "url": st.sampled_from([
            "http://192.0.2.10/rec/", "https://user:pw@198.51.100.7/r?x=1", "ftp://192.0.2.11/in/",
            "ftps://u:p@192.0.2.12/", "http://127.0.0.1:9/", "file:///etc/passwd", "",
        ]) | text,
        "method": st.sampled_from(["put", "post", "PUT", "get"]),
        "custom_channel_vars": st.dictionaries(text, anything, max_size=4) | anything,
    }
    optional = {k: v | anything for k, v in fields.items()}
    call_id = st.text("abcdef0123456789-@.", min_size=1, max_size=40) | text | anything
    meta = st.fixed_dictionaries({"call_id": call_id}, optional=optional)
    return (meta | anything).map(lambda m: json.dumps(m, ensure_ascii=True))


@schemathesis.hook
def before_generate_headers(context, strategy):
    op = context.operation
    path = op.path
    if path.startswith("/rec_ext/"):
        auth = weighted([BASIC], 92)
        meta = recording_metadata() if path.startswith("/rec_ext/ingest/") else st.none()
        meta = weighted(meta, 85) if path.startswith("/rec_ext/ingest/") else st.none()
        extra = st.fixed_dictionaries({"Authorization": auth, "X-Recording-Metadata": meta})
    elif any("auth_token" in s for s in (op.definition.raw.get("security") or [])):
        extra = st.fixed_dictionaries({"X-Auth-Token": crossbar_token()})
    else:
        return strategy

    def merge(pair):
        generated, chosen = pair
        out = dict(generated or {})
        for k, v in chosen.items():
            if v is not None:
                out[k] = v
        return out

    return st.tuples(strategy, extra).map(merge)


# ---------------------------------------------------------------- query

def gregorian(days_ago):
    return str(int(time.time()) + 62_167_219_200 - days_ago * 86400)


QUERY = {
    "page_size": st.sampled_from(["1", "2", "5", "50", "0", "-1", "abc", "100000"]),
    "paginate": st.sampled_from(["true", "false", "maybe"]),
    "created_from": st.sampled_from([gregorian(60), gregorian(30), gregorian(0), "0", "-5"]),
    "created_to": st.sampled_from([gregorian(0), gregorian(-1), gregorian(45), "99999999999"]),
    "accept": st.sampled_from([
        "application/json", "text/csv", "audio/mpeg", "audio/*", "*/*",
        "application/octet-stream", "image/png", "text/html", "application/xml",
    ]),
    "has_key": st.sampled_from(["name", "owner_id", "media_source", "pvt_type", "_id"]),
    "key_missing": st.sampled_from(["name", "owner_id", "custom_channel_vars"]),
    "filter_name": st.sampled_from(["Alice", "Fuzz", ""]),
    "search": st.sampled_from(["a", "Fuzz", "1001"]),
    "group_by": st.sampled_from(["owner_id", "name", "x"]),
}


@schemathesis.hook
def before_generate_query(context, strategy):
    names = [p.name for p in context.operation.query]
    if context.operation.path == "/v2/auth/tokeninfo":
        # Monster UI's `?token=` (not in the description's query parameters).
        token = weighted([TOKEN, SEED["master_token"], "x", ""], 80, st.text(max_size=40))
        return st.tuples(strategy, token).map(lambda p: dict(p[0] or {}, token=p[1]))
    if not names:
        return strategy
    extra = st.fixed_dictionaries(
        {}, optional={k: v for k, v in QUERY.items() if k in names}
    )

    def merge(pair):
        generated, chosen, use = pair
        out = dict(generated or {})
        if use:
            out.update(chosen)
        return out

    return st.tuples(strategy, extra, st.integers(0, 99).map(lambda i: i < 50)).map(merge)


# ---------------------------------------------------------------- bodies

def call_description():
    devices = st.sampled_from(SEED["devices"])
    users = st.sampled_from(SEED["users"] + [SEED["admin_user_id"]])
    net = st.sampled_from(["onnet", "offnet"])
    return st.fixed_dictionaries(
        {},
        optional={
            "caller_device_id": devices | st.text(max_size=8),
            "caller_user_id": users,
            "callee_device_ids": st.lists(devices, max_size=3) | st.text(max_size=5),
            "from_network": net | st.text(max_size=5),
            "to_network": net,
            "call_forwarded": st.booleans(),
            "call_forward_from": users,
            "queue_id": st.sampled_from(SEED["queues"]),
            "agent_id": users,
        },
    ).map(lambda d: {"data": d})


def cdr_event():
    text = st.text(max_size=20)
    interaction = st.one_of(
        st.integers(0, 99_999_999_999).map(lambda t: f"{t:011d}-x"),
        text,
    )
    return st.fixed_dictionaries(
        {"Call-ID": st.text("abcdef0123456789-", min_size=1, max_size=30) | text},
        optional={
            "Call-Direction": st.sampled_from(["inbound", "outbound"]),
            "Duration-Seconds": st.integers() | text,
            "Billing-Seconds": st.integers(0, 100),
            "Hangup-Cause": st.sampled_from(["NORMAL_CLEARING", "USER_BUSY"]),
            "Custom-Channel-Vars": st.fixed_dictionaries(
                {},
                optional={
                    "Account-ID": st.just(A),
                    "Owner-ID": st.sampled_from(SEED["users"]),
                    "Call-Interaction-ID": interaction,
                    "pvt_type": text,
                    "pvt_account_db": text,
                    "Is-Conference": st.booleans(),
                    "Recording-URL": text,
                },
            ),
            "interaction_id": interaction,
        },
    ).flatmap(lambda e: st.sampled_from([e, {"data": e}]))


def login_body():
    login = SEED["login"]
    creds = hashlib.md5(f"{login['username']}:{login['password']}".encode()).hexdigest()
    return st.fixed_dictionaries(
        {"credentials": st.just(creds)},
        optional={
            "account_name": st.sampled_from([login["account_name"], "fuzz co", "FUZZ CO"]),
            "method": st.sampled_from(["md5", "sha", "plain"]),
            "account_realm": st.text(max_size=10),
        },
    ).map(lambda d: {"data": d})


def realistic_body(op):
    path, method = op.path, op.method.upper()
    if path == "/v2/user_auth":
        # Right credentials only: wrong ones for the seeded account would trip its login
        # throttle, and the run needs to log in (DELETE /v2/token_auth).
        return login_body()
    if path == "/v2/api_auth":
        return st.sampled_from([SEED["api_key"], SEED["api_key"].upper(), ""]).map(
            lambda k: {"data": {"api_key": k}}
        )
    if path == "/v2/auth/tokeninfo":
        return weighted([TOKEN, SEED["master_token"]], 80, st.text(max_size=30)).map(
            lambda t: {"data": {"token": t}}
        )
    if path.startswith("/rec_ext/decide/") or path.endswith("/rec_ext/explain"):
        return call_description()
    if path.startswith("/rec_ext/cdr/"):
        return cdr_event()
    if path.endswith("/roster") and method == "POST":
        return st.lists(st.sampled_from(SEED["users"] + [SEED["admin_user_id"]]), max_size=4).map(
            lambda u: {"data": u}
        )
    if path.endswith("/apps_store/blacklist"):
        return st.lists(st.sampled_from(SEED["apps"] or ["x"]), max_size=2).map(
            lambda b: {"data": {"blacklist": b}}
        )
    if path.endswith("/rec_ext/retention"):
        days = st.integers(-1, 400) | st.none() | st.text(max_size=3)
        return st.fixed_dictionaries({}, optional={"couch_days": days, "storage_days": days}).map(
            lambda d: {"data": d}
        )
    return None


@schemathesis.hook
def before_generate_body(context, strategy):
    real = realistic_body(context.operation)
    if real is None:
        return strategy
    return weighted(real, 60, strategy)


def unroll_self_references(raw):
    """schemathesis 3 cannot generate from recursive schemas ("Unsupported Schema"): a
    component that refers to itself (callflow actions' children, metaflows, storage
    attachment fields) gets one level of nesting, below which anything goes."""
    comps = raw.get("components", {}).get("schemas", {})

    def subst(node, ref, by):
        if isinstance(node, dict):
            if node.get("$ref") == ref:
                return json.loads(json.dumps(by))
            return {k: subst(v, ref, by) for k, v in node.items()}
        if isinstance(node, list):
            return [subst(v, ref, by) for v in node]
        return node

    for name in list(comps):
        ref = f"#/components/schemas/{name}"
        if ref in json.dumps(comps[name]):
            inner = subst(comps[name], ref, {})
            comps[name] = subst(comps[name], ref, inner)


# The ingest body: audio bytes (schemathesis has no strategy for audio/mpeg of its own).
AUDIO = st.one_of(
    st.binary(max_size=2048),
    st.integers(0, 200_000).map(lambda n: b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" * (n // 4)),
)
schemathesis.openapi.media_type("audio/mpeg", AUDIO)


# Whitelabel uploads: images and html, as Monster UI sends them (besides the JSON the
# description names).
schemathesis.openapi.media_type("image/png", st.one_of(
    st.binary(max_size=512),
    st.integers(1, 50_000).map(lambda n: b"\x89PNG\r\n\x1a\n" + b"\x00" * n),
))
schemathesis.openapi.media_type("text/html", st.text(max_size=200).map(
    lambda t: ("<html><body>" + t + "</body></html>").encode("utf-8", "surrogatepass")
))


def add_upload_types(raw):
    for what in ("logo", "icon", "welcome"):
        op = raw.get("paths", {}).get(f"/v2/accounts/{{ACCOUNT_ID}}/whitelabel/{what}", {}).get("post")
        if op and "requestBody" in op:
            content = op["requestBody"].setdefault("content", {})
            binary = {"schema": {"type": "string", "format": "binary"}}
            content["text/html" if what == "welcome" else "image/png"] = binary


def order_paths(raw):
    """The media-server endpoints first: recordings and CDRs land in child accounts before
    the DELETE /v2/accounts/{ACCOUNT_ID} tests remove those (what is left of them then?)."""
    paths = raw.get("paths", {})
    first = [p for p in paths if p.startswith("/rec_ext/")]
    raw["paths"] = {p: paths[p] for p in first + [p for p in paths if p not in first]}


@schemathesis.hook
def before_load_schema(context, raw_schema):
    unroll_self_references(raw_schema)
    add_upload_types(raw_schema)
    order_paths(raw_schema)
    for path, item in raw_schema.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            schema = (
                op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            )
            if isinstance(schema, dict) and "data" in schema.get("properties", {}):
                schema["required"] = ["data"]
    add_links(raw_schema)


def add_links(raw):
    """OpenAPI links: an id created by a PUT feeds the operations on that id."""
    paths = raw.get("paths", {})

    def link(src_path, src_method, status, target_path, params):
        src = paths.get(src_path, {}).get(src_method)
        if src is None:
            return
        links = src.setdefault("responses", {}).setdefault(
            str(status), {"description": "created"}
        ).setdefault("links", {})
        for method in ("get", "post", "patch", "delete"):
            if method in paths.get(target_path, {}):
                op_id = paths[target_path][method].get("operationId")
                links[f"{method} {target_path}"] = {"operationId": op_id, "parameters": params}

    for noun, var in (("users", "U"), ("devices", "D"), ("callflows", "C"), ("queues", "Q")):
        link(f"/v2/accounts/{{ACCOUNT_ID}}/{noun}", "put", 201,
             f"/v2/accounts/{{ACCOUNT_ID}}/{noun}/{{{var}}}",
             {"ACCOUNT_ID": "$request.path.ACCOUNT_ID", var: "$response.body#/data/id"})
    link("/v2/accounts/{ACCOUNT_ID}/queues", "put", 201,
         "/v2/accounts/{ACCOUNT_ID}/queues/{Q}/roster",
         {"ACCOUNT_ID": "$request.path.ACCOUNT_ID", "Q": "$response.body#/data/id"})
    for src in ("/v2/accounts", "/v2/accounts/{ACCOUNT_ID}"):
        link(src, "put", 201, "/v2/accounts/{ACCOUNT_ID}",
             {"ACCOUNT_ID": "$response.body#/data/id"})
        link(src, "put", 201, "/v2/accounts/{ACCOUNT_ID}/users",
             {"ACCOUNT_ID": "$response.body#/data/id"})
    link("/rec_ext/ingest/{account_id}", "put", 201, "/v2/accounts/{ACCOUNT_ID}/recordings/{R}",
         {"ACCOUNT_ID": "$request.path.account_id", "R": "$response.body#/data/id"})
    link("/rec_ext/cdr/{account_id}", "put", 201, "/v2/accounts/{ACCOUNT_ID}/cdrs/{C}",
         {"ACCOUNT_ID": "$request.path.account_id", "C": "$response.body#/data/id"})


# ---------------------------------------------------------------- the check

def deliberate_5xx(response):
    """crossbar's own 500 for deleting an account that has descendants (cb_accounts)."""
    if response.status_code != 500:
        return False
    try:
        return response.json().get("message") == "account_has_descendants"
    except ValueError:
        return False


@schemathesis.check
def kazoo_not_a_server_error(response, case):
    if response.status_code >= 500 and not deliberate_5xx(response):
        raise AssertionError(f"Server error: {response.status_code}")


# ---------------------------------------------------------------- fresh tokens, request log

def fresh_token():
    """A token of its own for DELETE /v2/token_auth: the admin's, else Alice's; never the
    run's own (a garbage one if no login works: 401, and the run goes on)."""
    for user, password in ((SEED["admin_username"], SEED["admin_password"]),
                           (SEED["login"]["username"], SEED["login"]["password"])):
        creds = hashlib.md5(f"{user}:{password}".encode()).hexdigest()
        body = json.dumps({"data": {"credentials": creds, "account_name": SEED["account_name"]}}).encode()
        req = urllib.request.Request(
            SEED["base"] + "/v2/user_auth", data=body, method="PUT",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.load(r)["auth_token"]
        except (OSError, ValueError, KeyError):
            continue
    return "no-login-worked"


_lock = threading.Lock()
_log_fd = os.open(LOG_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


class _Log:
    """One write(2) per line on an O_APPEND file: lines of concurrent processes never mix."""

    def write(self, line):
        os.write(_log_fd, line.encode())


_log = _Log()
_pending = {}  # request number -> record of a request sent and not yet answered
_count = [0]


def _text(body):
    if body is None:
        return None
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(body).decode()


def _curl(method, url, headers, body):
    parts = ["curl", "-sS", "-i", "-X", method]
    for k, v in headers.items():
        if k.lower() in ("user-agent", "accept-encoding", "connection", "content-length",
                         "x-schemathesis-testcaseid"):
            continue
        parts += ["-H", f"{k}: {v}"]
    if body is not None:
        if isinstance(body, str):
            body = body.encode()
        try:
            parts += ["--data-binary", body.decode("utf-8")]
        except UnicodeDecodeError:
            return (
                f"printf '%s' {shlex.quote(base64.b64encode(body).decode())} | base64 -d | "
                + " ".join(shlex.quote(p) for p in parts + ["--data-binary", "@-", url])
            )
    parts.append(url)
    return " ".join(shlex.quote(p) for p in parts)


REQUEST_TIMEOUT_S = float(os.environ.get("FUZZ_REQUEST_TIMEOUT_S", "30"))


def _flush_unanswered(older_than=None):
    """Requests sent and never answered (timeout, connection reset: schemathesis records an
    error and calls no after_call) go to the log. At exit all of them; during the run those
    older than the request timeout (other workers' requests may be in flight)."""
    now = time.time()
    with _lock:
        for key, rec in list(_pending.items()):
            if older_than is None or now - rec["t"] > older_than:
                rec["ev"] = "no_response"
                _log.write(json.dumps(rec) + "\n")
                del _pending[key]


atexit.register(_flush_unanswered)

# A request that raises (timeout, connection reset) gets no after_call: log it with the error.
from schemathesis.transports import RequestsTransport  # noqa: E402

_send = RequestsTransport.send


def _logged_send(self, case, *args, **kwargs):
    try:
        return _send(self, case, *args, **kwargs)
    except BaseException as e:
        with _lock:
            rec = _pending.pop(getattr(case, "_fuzz_n", None), None)
            if rec is not None:
                # KeyboardInterrupt: the run's time budget stopped schemathesis (SIGINT).
                rec["ev"] = "interrupted" if isinstance(e, KeyboardInterrupt) else "no_response"
                rec["error"] = f"{type(e).__name__}: {e}"[:600]
                rec["after_s"] = round(time.time() - rec["t"], 2)
                _log.write(json.dumps(rec) + "\n")
        raise


RequestsTransport.send = _logged_send


@schemathesis.hook
def before_call(context, case):
    op = case.operation
    if op.method.upper() == "DELETE" and op.path == "/v2/token_auth" and case.headers:
        if case.headers.get("X-Auth-Token") in (TOKEN, SEED["master_token"]):
            case.headers["X-Auth-Token"] = fresh_token()
    # A fresh connection per request: the service closes an idle keep-alive connection
    # after 5 s, and a request sent on it at that moment fails on the client's side (seen
    # when generating an example took hypothesis 5 s); that is no finding about the service.
    case.headers = case.headers if case.headers is not None else {}
    case.headers["Connection"] = "close"
    _flush_unanswered(older_than=REQUEST_TIMEOUT_S + 5)
    try:
        kw = case.as_transport_kwargs(base_url=SEED["base"])
        prepared = requests.Request(
            method=kw["method"], url=kw["url"], headers=kw.get("headers"),
            params=kw.get("params"), json=kw.get("json"), data=kw.get("data"),
        ).prepare()
        curl = _curl(prepared.method, prepared.url, dict(prepared.headers), prepared.body)
    except Exception as e:  # the log must never stop the run
        curl = f"(no curl: {e})"
    with _lock:
        _count[0] += 1
        case._fuzz_n = f"{GROUP}{_count[0]}"
        _pending[case._fuzz_n] = {
            "n": case._fuzz_n, "t": time.time(), "op": f"{op.method.upper()} {op.path}",
            "curl": curl,
        }


@schemathesis.hook
def after_call(context, case, response):
    with _lock:
        rec = _pending.pop(getattr(case, "_fuzz_n", None), None) or {
            "n": None, "op": f"{case.operation.method.upper()} {case.operation.path}",
        }
    req = response.request
    out = {
        "ev": "resp", "n": rec["n"], "op": rec["op"], "status": response.status_code,
        "ms": round(response.elapsed.total_seconds() * 1000, 1), "t": round(time.time(), 3),
    }
    if response.status_code >= 500 or os.environ.get("FUZZ_LOG_ALL"):
        out.update(
            deliberate=deliberate_5xx(response),
            method=req.method, url=req.url, headers=dict(req.headers),
            body=_text(req.body), response_headers=dict(response.headers),
            response_body=_text(response.content)[:4000],
            curl=_curl(req.method, req.url, dict(req.headers), req.body),
        )
    with _lock:
        _log.write(json.dumps(out) + "\n")
