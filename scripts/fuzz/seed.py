#!/usr/bin/env python3
"""Seed a fresh kazoo-rec (empty CouchDB) with realistic data through its API, for the fuzzer.

    seed.py --base URL --admin-password PW --media-user U --media-password P \
            --kazoo-rec target/release/kazoo-rec --couchdb-url URL --work DIR --out seed.json

Creates, under the master account: an account "Fuzz Co" (A) with an admin user, more users,
devices, callflows, queues with a roster, a storage document (a connector, no plan, so
recordings still go to CouchDB), a whitelabel with a logo, metaflows, child accounts (some
with a child of their own), recordings (generated with `kazoo-rec gen-recordings` and
ingested through `/rec_ext/ingest`), CDRs (through `/rec_ext/cdr`), a Monster UI app in the
registry (`kazoo-rec register-app`), and delivery errors (an ingest to an unreachable URL).
Writes every id the fuzzer should reuse to --out (JSON). Stdlib only.
"""

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid


class Api:
    def __init__(self, base):
        self.base = base.rstrip("/")

    def request(self, method, path, body=None, headers=None, raw=None, ok=(200, 201)):
        h = dict(headers or {})
        data = None
        if raw is not None:
            data = raw
        elif body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        if ok and status not in ok:
            shown = parsed.get("data", parsed) if isinstance(parsed, dict) else text[:1500]
            sys.exit(f"seed: {method} {path} answered {status}: {json.dumps(shown)[:1500] if isinstance(parsed, dict) else shown!r}")
        return status, parsed

    def crossbar(self, method, path, token, data=None, ok=(200, 201)):
        body = None if data is None else {"data": data}
        return self.request(method, "/v2" + path, body, {"X-Auth-Token": token}, ok=ok)[1]

    def login(self, user, password, account_name):
        creds = hashlib.md5(f"{user}:{password}".encode()).hexdigest()
        _, r = self.request(
            "PUT",
            "/v2/user_auth",
            {"data": {"credentials": creds, "account_name": account_name}},
        )
        return r["auth_token"], r["data"]["account_id"], r["data"].get("owner_id")


def wait_for(api, path, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            api.request("GET", path, ok=None)
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"seed: the service did not answer {path} within {seconds} s")


def png(tag):
    # A tiny valid PNG (1x1) with a tag in a text chunk, so each image differs.
    import struct
    import zlib

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"tEXt", b"Comment\x00" + tag.encode())
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def make_app(root, name):
    meta = os.path.join(root, name, "metadata")
    os.makedirs(os.path.join(meta, "icon"), exist_ok=True)
    os.makedirs(os.path.join(meta, "screenshots"), exist_ok=True)
    with open(os.path.join(meta, "app.json"), "w") as f:
        json.dump(
            {
                "name": name,
                "i18n": {"en-US": {"label": f"{name} label", "description": "Fuzz app"}},
                "tags": ["reseller"],
                "icon": "icon.png",
                "api_url": "http://api.example.com/v2",
                "source_url": "http://src.example.com",
                "author": "Fuzzer",
                "version": "1.0",
                "license": "-",
                "price": 0,
                "screenshots": ["one.png", "two.png"],
            },
            f,
        )
    for rel in ("icon/icon.png", "screenshots/one.png", "screenshots/two.png"):
        with open(os.path.join(meta, rel), "wb") as f:
            f.write(png(f"{name}/{rel}"))


def storage(api, account, token):
    """A storage document with a connector and no plan, so recordings still go to CouchDB.
    An azure connector: stored without a probe (this service cannot write to it), while
    s3/http connectors are probed with a test write, which cannot reach anything here."""
    api.crossbar(
        "PUT",
        f"/accounts/{account}/storage",
        token,
        {
            "attachments": {
                uuid.uuid4().hex: {
                    "handler": "azure",
                    "name": "Archive",
                    "settings": {"account": "fuzzarchive", "container": "recordings", "key": "fuzz-key"},
                }
            }
        },
    )


def whitelabel(api, account, token, domain):
    """Whitelabel with a logo and an icon, and metaflows."""
    api.crossbar("PUT", f"/accounts/{account}/whitelabel", token, {"domain": domain, "company_name": "Fuzz Co"})
    for what in ("logo", "icon"):
        api.request(
            "POST",
            f"/v2/accounts/{account}/whitelabel/{what}",
            headers={"X-Auth-Token": token, "Content-Type": "image/png"},
            raw=png(what),
        )
    api.request(
        "POST",
        f"/v2/accounts/{account}/whitelabel/welcome",
        headers={"X-Auth-Token": token, "Content-Type": "text/html"},
        raw=b"<h1>Welcome to Fuzz Co</h1>",
    )
    api.crossbar(
        "POST",
        f"/accounts/{account}/metaflows",
        token,
        {"binding_digit": "*", "numbers": {"2": {"module": "record_call", "data": {"action": "toggle"}}}},
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--admin-password", required=True)
    p.add_argument("--media-user", required=True)
    p.add_argument("--media-password", required=True)
    p.add_argument("--kazoo-rec", required=True)
    p.add_argument("--couchdb-url", required=True)
    p.add_argument("--work", required=True, help="a scratch folder (app files)")
    p.add_argument("--out", required=True)
    a = p.parse_args()

    api = Api(a.base)
    wait_for(api, "/v2/rec_ext/openapi.json")
    master_token, master_id, _ = api.login("admin", a.admin_password, "master")

    acct_name = "Fuzz Co"
    A = api.crossbar("PUT", f"/accounts/{master_id}", master_token, {"name": acct_name})["data"]["id"]
    admin_pw = "fuzz-admin-pw"
    admin_uid = api.crossbar(
        "PUT",
        f"/accounts/{A}/users",
        master_token,
        {
            "first_name": "Fuzz",
            "last_name": "Admin",
            "username": "fuzzadmin",
            "password": admin_pw,
            "priv_level": "admin",
            "email": "fuzzadmin@example.com",
        },
    )["data"]["id"]
    token, _, _ = api.login("fuzzadmin", admin_pw, acct_name)

    users = []
    for i, (first, priv) in enumerate(
        [("Alice", "user"), ("Bob", "user"), ("Carol", "admin"), ("Dave", "user"), ("Erin", "user")]
    ):
        users.append(
            api.crossbar(
                "PUT",
                f"/accounts/{A}/users",
                token,
                {
                    "first_name": first,
                    "last_name": "Fuzz",
                    "username": f"{first.lower()}@fuzz.example.com",
                    "password": f"pw-{first}",
                    "priv_level": priv,
                    "record_call": i % 2 == 0,
                },
            )["data"]["id"]
        )

    devices = []
    for i, owner in enumerate(users + users[:1]):
        devices.append(
            api.crossbar(
                "PUT",
                f"/accounts/{A}/devices",
                token,
                {
                    "name": f"Desk {i}",
                    "owner_id": owner,
                    "device_type": "sip_device",
                    "sip": {"username": f"desk{i}", "password": f"secret{i}"},
                },
            )["data"]["id"]
        )

    callflows = []
    for i, user in enumerate(users):
        callflows.append(
            api.crossbar(
                "PUT",
                f"/accounts/{A}/callflows",
                token,
                {
                    "name": f"Flow {i}",
                    "numbers": [f"10{i:02d}"],
                    "flow": {
                        "module": "record_call",
                        "data": {"action": "start"},
                        "children": {"_": {"module": "user", "data": {"id": user}, "children": {}}},
                    },
                },
            )["data"]["id"]
        )

    queues = []
    for i, name in enumerate(["Support", "Sales", "Billing", "Night"]):
        q = api.crossbar(
            "PUT",
            f"/accounts/{A}/queues",
            token,
            {"name": name, "strategy": "round_robin", "record_caller": i == 0},
        )["data"]["id"]
        api.crossbar("POST", f"/accounts/{A}/queues/{q}/roster", token, users[:2])
        queues.append(q)

    storage(api, A, token)

    domain = "fuzz.example.com"
    whitelabel(api, A, token, domain)

    # Child accounts: targets for writes to and deletes of the account itself (A never is).
    # Two more, never deleted, for requests on what an account holds: one st process must
    # not read an account's database while the other deletes it (pouchdb-server then
    # answers "database is closed" and keeps an empty copy).
    stable = [
        api.crossbar("PUT", f"/accounts/{A}", token, {"name": f"Fuzz Stable {i}"})["data"]["id"]
        for i in range(2)
    ]
    # The second one takes the deletes of an account's single documents (whitelabel,
    # storage, metaflows), so that A keeps its own for the other requests.
    whitelabel(api, stable[1], token, "fuzz2.example.com")
    storage(api, stable[1], token)
    children, grandchildren = [], []
    for i in range(8):
        c = api.crossbar("PUT", f"/accounts/{A}", token, {"name": f"Fuzz Child {i}"})["data"]["id"]
        children.append(c)
    for i, c in enumerate(children[:2]):
        grandchildren.append(
            api.crossbar("PUT", f"/accounts/{c}", token, {"name": f"Fuzz Grandchild {i}"})["data"]["id"]
        )

    # Recordings: generated straight into CouchDB, and ingested through the API.
    env = dict(os.environ, COUCHDB_URL=a.couchdb_url)
    subprocess.run(
        [a.kazoo_rec, "gen-recordings", "--account", A, "--count", "20",
         "--owners", ",".join([admin_uid] + users[:2]), "--months", "2"],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )
    basic = "Basic " + base64.b64encode(f"{a.media_user}:{a.media_password}".encode()).decode()
    ingested = []
    for i in range(6):
        meta = {
            "call_id": f"fuzz-call-{i}",
            "format": ["mp3", "wav", "mp4"][i % 3],
            "duration_ms": 1000 * (i + 3),
            "owner_id": users[i % 3],
            "endpoint_id": devices[i % 3],
            "direction": "inbound" if i % 2 else "outbound",
            "from": f"100{i}@fuzz.example.com",
            "to": "2000@fuzz.example.com",
            "caller_id_number": f"100{i}",
            "callee_id_number": "2000",
            "custom_channel_vars": {"Fuzz": str(i)},
        }
        _, r = api.request(
            "PUT",
            f"/rec_ext/ingest/{A}",
            headers={"Authorization": basic, "X-Recording-Metadata": json.dumps(meta),
                     "Content-Type": "audio/mpeg"},
            raw=os.urandom(2048 + i),
        )
        ingested.append(r["data"]["id"])
    # One to an unreachable destination: the delivery fails and leaves handler errors
    # (the fuzz run has no network beyond loopback).
    meta = {"call_id": "fuzz-call-unreachable", "url": "http://192.0.2.10/recordings/", "duration_ms": 4000}
    _, r = api.request(
        "PUT",
        f"/rec_ext/ingest/{A}",
        headers={"Authorization": basic, "X-Recording-Metadata": json.dumps(meta)},
        raw=os.urandom(1024),
    )
    undeliverable = r["data"]["id"]

    cdrs = []
    for i in range(4):
        event = {
            "Call-ID": f"fuzz-call-{i}",
            "Call-Direction": "inbound",
            "Caller-ID-Number": f"100{i}",
            "Callee-ID-Number": "2000",
            "Duration-Seconds": 10 + i,
            "Billing-Seconds": 8 + i,
            "Hangup-Cause": "NORMAL_CLEARING",
            "Custom-Channel-Vars": {
                "Account-ID": A,
                "Owner-ID": users[i % 3],
                "Authorizing-ID": devices[i % 3],
                "Call-Interaction-ID": f"{63_900_000_000 + i}-fuzz{i}",
            },
        }
        _, r = api.request(
            "PUT",
            f"/rec_ext/cdr/{A}",
            {"data": event},
            headers={"Authorization": basic},
        )
        cdrs.append(r["data"]["id"])

    # The app registry (in the master account), enabled for A.
    apps_root = os.path.join(a.work, "apps")
    for name in ("fuzzrec", "fuzzstore"):
        make_app(apps_root, name)
    subprocess.run([a.kazoo_rec, "register-app", apps_root], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    apps = [x["id"] for x in api.crossbar("GET", f"/accounts/{A}/apps_store", token)["data"]]
    if apps:
        api.crossbar("PUT", f"/accounts/{A}/apps_store/{apps[0]}", token, {"allowed_users": "all"})

    recordings = [
        r["id"]
        for r in api.crossbar("GET", f"/accounts/{A}/recordings?paginate=false", token)["data"]
    ]
    cdr_rows = api.crossbar("GET", f"/accounts/{A}/cdrs?paginate=false", token)["data"]
    legs = sorted({r.get("interaction_id") or r.get("call_id") for r in cdr_rows if isinstance(r, dict)} - {None})

    # Delivery failures of the unreachable recording (the worker records one per attempt).
    errors = []
    for _ in range(50):
        errors = [e["id"] for e in api.crossbar("GET", f"/accounts/{A}/att_handlers_errors", token)["data"]]
        if errors:
            break
        time.sleep(0.2)

    api_key = api.crossbar("GET", f"/accounts/{A}/api_key", token)["data"]["api_key"]
    generated = sorted(set(recordings) - set(ingested) - {undeliverable})
    # Deletes go to the spare documents (the rest stay for the other requests).
    seed = {
        "base": a.base,
        "master_id": master_id,
        "master_token": master_token,
        "account_id": A,
        "account_name": acct_name,
        "token": token,
        "admin_user_id": admin_uid,
        "admin_username": "fuzzadmin",
        "admin_password": admin_pw,
        "users": users[:3],
        "spare_users": users[3:],
        "devices": devices[:4],
        "spare_devices": devices[4:],
        "callflows": callflows[:3],
        "spare_callflows": callflows[3:],
        "queues": queues[:2],
        "spare_queues": queues[2:],
        "spare_recordings": generated[::2],
        "singles_account": stable[1],
        "api_key": api_key,
        "login": {"username": "alice@fuzz.example.com", "password": "pw-Alice", "account_name": acct_name},
        "stable_children": stable,
        "children": children,
        "grandchildren": grandchildren,
        "recordings": sorted(set(recordings + ingested + [undeliverable])),
        "cdrs": cdrs,
        "legs": legs or cdrs,
        "apps": apps,
        "att_errors": errors,
        "domains": [domain, "fuzz2.example.com"],
        "media_user": a.media_user,
        "media_password": a.media_password,
    }
    with open(a.out, "w") as f:
        json.dump(seed, f, indent=1)
    print(
        f"seeded account {A}: {1 + len(users)} users, {len(devices)} devices, {len(callflows)} callflows, "
        f"{len(queues)} queues, {len(stable) + len(children) + len(grandchildren)} child accounts, "
        f"{len(seed['recordings'])} recordings, {len(cdrs)} CDRs, {len(apps)} apps, {len(errors)} delivery errors"
    )


if __name__ == "__main__":
    main()
