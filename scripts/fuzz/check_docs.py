#!/usr/bin/env python3
"""Look for half-written state in a kazoo-rec CouchDB after a fuzzing run. Stdlib only.

    check_docs.py --couchdb-url URL [--spool DIR] [--json OUT]

Every database, every document but design documents. A problem is something the service's
own code says cannot be left behind:

1. Private fields. Every writer of these types stamps pvt_type, pvt_account_id,
   pvt_account_db, pvt_created, pvt_modified and pvt_vsn (crossbar saves through
   src/couch/pvt.rs `stamp`, the master account in src/startup.rs, recordings in
   src/ingest/http.rs and src/testdata.rs, CDRs in src/cdr.rs): account, user, device,
   callflow, queue, storage, call_recording, cdr. A document of one of these types without
   one of them was written by another path, or half.
2. Where a document lives. pvt_account_db names (encoded) the database the document is
   in, and pvt_account_id its account, for documents in an account database or MODB
   (the `accounts` copies name their account's own database instead; storage lives in
   system_data and says so).
3. Accounts (src/api/accounts.rs create_account_dbs / save_account / delete_account):
   an account in `accounts` has its database holding the same account document, and the
   two agree on the public fields and on pvt_tree, pvt_api_key, pvt_enabled,
   pvt_whitelabel_domain (every writer updates both); an account database holds its
   account document and has its `accounts` entry; a MODB belongs to an existing account
   ("its MODBs … are removed" with the account). Not counted: empty databases of deleted
   accounts, which pouchdb-server re-creates when a read races the deletion.
4. Recordings (src/ingest/http.rs, deliver.rs, worker.rs): a call_recording document has
   its audio (`_attachments`, or a `pvt_attachments` stub of a delivered copy), or its
   delivery is still pending in the spool (a job with that document id). A spool job has
   its audio file (the audio is written and fsynced before the job).
5. With --api and --seed (the service still running): the listings of users, devices,
   callflows, queues and recordings of the seeded accounts show no soft-deleted document
   (pvt_deleted: every listing view of couchdb-views/ skips them) and no id without a
   document.
Counts are printed; exit status 1 on any problem.
"""

import argparse
import base64
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

CHECKED_TYPES = {
    "account", "user", "device", "callflow", "queue", "storage", "call_recording", "cdr",
}
REQUIRED = ["pvt_type", "pvt_account_id", "pvt_account_db", "pvt_created", "pvt_modified", "pvt_vsn"]
# Slashes optional: pouchdb-server drops them from database names (account/ab/cd/… and
# accountabcd… are the same database there), Apache CouchDB keeps them.
ACCOUNT_DB = re.compile(r"^account/?([0-9a-f]{2})/?([0-9a-f]{2})/?([0-9a-f]{28})(?:-(.+))?$")
ACCOUNT_FIELDS_KEPT_IN_STEP = ["pvt_tree", "pvt_api_key", "pvt_enabled", "pvt_whitelabel_domain", "pvt_type"]


class Couch:
    def __init__(self, url):
        parts = urllib.parse.urlsplit(url.rstrip("/"))
        self.headers = {"Accept": "application/json"}
        if parts.username:
            cred = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            self.headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
            netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
            parts = parts._replace(netloc=netloc)
        self.base = urllib.parse.urlunsplit(parts)

    def get(self, path, **query):
        q = urllib.parse.urlencode({k: json.dumps(v) if not isinstance(v, str) else v for k, v in query.items()})
        url = f"{self.base}/{path}" + (f"?{q}" if q else "")
        req = urllib.request.Request(url, headers=self.headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def all_dbs(self):
        return self.get("_all_dbs")

    def docs(self, db):
        """Every document of `db` (design documents too), in pages."""
        path = urllib.parse.quote(db, safe="") + "/_all_docs"
        start = None
        while True:
            q = {"include_docs": "true", "limit": 501}
            if start is not None:
                q["startkey"] = start
            page = self.get(path, **q)
            if page is None:
                return
            rows = page.get("rows", [])
            for r in rows[:500]:
                if r.get("doc") is not None:
                    yield r["doc"]
            if len(rows) <= 500:
                return
            start = rows[500]["id"]


def account_of_db(db):
    m = ACCOUNT_DB.match(db)
    if not m:
        return None, None
    return m.group(1) + m.group(2) + m.group(3), m.group(4)


def canonical(db):
    """The database's name as the service spells it (`account/ab/cd/…[-YYYYMM]`)."""
    m = ACCOUNT_DB.match(db)
    if not m:
        return db
    return f"account/{m.group(1)}/{m.group(2)}/{m.group(3)}" + (f"-{m.group(4)}" if m.group(4) else "")


def encode(db):
    return canonical(db).replace("/", "%2F")


def public(doc):
    return {k: v for k, v in doc.items() if not k.startswith("_") and not k.startswith("pvt_")}


def spool_jobs(spool):
    """{doc_id: [job, …]} of pending delivery jobs, and problems of the spool itself."""
    jobs, problems = {}, []
    if not spool or not os.path.isdir(spool):
        return jobs, problems
    for name in sorted(os.listdir(spool)):
        if not name.endswith(".job.json"):
            continue
        path = os.path.join(spool, name)
        try:
            with open(path) as f:
                job = json.load(f)
        except (OSError, ValueError) as e:
            problems.append(f"spool job {name}: unreadable ({e})")
            continue
        jid = name[: -len(".job.json")]
        if not os.path.exists(os.path.join(spool, f"{jid}.audio")):
            problems.append(f"spool job {jid}: no audio file {jid}.audio")
        jobs.setdefault(job.get("doc_id"), []).append(job)
    return jobs, problems


def listings(base, seed_file):
    """{(account id, resource): [ids]} as the service lists them."""
    with open(seed_file) as f:
        seed = json.load(f)
    out = {}
    for aid in [seed["account_id"]] + seed.get("stable_children", []):
        for what in ("users", "devices", "callflows", "queues", "recordings"):
            req = urllib.request.Request(
                f"{base}/v2/accounts/{aid}/{what}?paginate=false",
                headers={"X-Auth-Token": seed["token"]},
            )
            with urllib.request.urlopen(req, timeout=120) as r:
                data = json.load(r).get("data", [])
            out[(aid, what)] = [x["id"] for x in data if isinstance(x, dict) and "id" in x]
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--couchdb-url", required=True)
    p.add_argument("--spool", help="the service's spool folder (pending deliveries)")
    p.add_argument("--json", help="write counts and problems here as JSON")
    p.add_argument("--api", help="the service's base URL, for the listing check")
    p.add_argument("--seed", help="seed.json of scripts/fuzz/seed.py (accounts, token)")
    p.add_argument("--max-print", type=int, default=50)
    a = p.parse_args()

    couch = Couch(a.couchdb_url)
    problems = []
    counts = {"databases": 0, "documents": 0, "typed_documents": 0}
    by_type = {}

    dbs = [d for d in couch.all_dbs() if not d.startswith("_")]
    counts["databases"] = len(dbs)
    account_dbs = {}  # account id -> account db name (existing)
    contents = {}  # db -> [(id, pvt_type)] of account databases and MODBs, for the report
    modbs = []  # (db, account id)
    accounts_copies = {}  # account id -> doc in `accounts`
    account_docs = {}  # account id -> its doc in its own db
    recordings = []  # (db, doc)

    # The listings first and the spool next, then the documents: what the service lists
    # or spools before the scan is in the documents the scan reads.
    try:
        listed = listings(a.api, a.seed) if a.api and a.seed else {}
    except OSError as e:
        listed = {}
        problems.append(f"the listings could not be read from the service ({e}); not checked")
    jobs, spool_problems = spool_jobs(a.spool)
    problems += spool_problems
    by_id = {}  # (account id, doc id) -> doc, for the listing check

    for real_db in dbs:
        db = canonical(real_db)
        acct, month = account_of_db(db)
        if acct and month is None:
            account_dbs[acct] = db
        elif acct:
            modbs.append((db, acct))
        for doc in couch.docs(real_db):
            did = doc.get("_id", "")
            if did.startswith("_design/"):
                continue
            counts["documents"] += 1
            t = doc.get("pvt_type")
            if acct:
                contents.setdefault(db, []).append((did, t))
                if listed:
                    by_id[(acct, did)] = doc
            if t not in CHECKED_TYPES:
                continue
            counts["typed_documents"] += 1
            by_type[t] = by_type.get(t, 0) + 1
            where = f"{db}/{did} ({t})"
            missing = [k for k in REQUIRED if k not in doc]
            if missing:
                problems.append(f"{where}: missing {', '.join(missing)}")
            # 2. where it lives
            if acct:
                if doc.get("pvt_account_db") not in (None, encode(db)):
                    problems.append(f"{where}: pvt_account_db {doc.get('pvt_account_db')!r} is not this database")
                if doc.get("pvt_account_id") not in (None, acct):
                    problems.append(f"{where}: pvt_account_id {doc.get('pvt_account_id')!r} is not this database's account")
            elif db == "system_data" and t == "storage":
                if doc.get("pvt_account_db") not in (None, "system_data"):
                    problems.append(f"{where}: pvt_account_db {doc.get('pvt_account_db')!r}")
                if doc.get("pvt_account_id") not in (None, did):
                    problems.append(f"{where}: storage of {did} says account {doc.get('pvt_account_id')!r}")
            if db == "accounts" and t == "account":
                accounts_copies[did] = doc
                if doc.get("pvt_account_db") not in (None, encode(f"account/{did[:2]}/{did[2:4]}/{did[4:]}")):
                    problems.append(f"{where}: pvt_account_db {doc.get('pvt_account_db')!r} is not its database")
            elif acct and month is None and t == "account" and did == acct:
                account_docs[acct] = doc
            elif t == "account" and db != "accounts":
                problems.append(f"{where}: an account document outside `accounts` and its own database")
            if t == "call_recording":
                recordings.append((db, doc))

    def held(db):
        docs = contents.get(db, [])
        shown = ", ".join(f"{i} ({t})" for i, t in docs[:6])
        return f"{len(docs)} documents" + (f": {shown}" if docs else "") + (" …" if len(docs) > 6 else "")

    # 3. accounts
    for aid, copy in sorted(accounts_copies.items()):
        if copy.get("pvt_deleted"):
            continue
        own = account_docs.get(aid)
        if aid not in account_dbs:
            problems.append(f"accounts/{aid}: listed, but its database account/{aid[:2]}/{aid[2:4]}/{aid[4:]} does not exist")
        elif own is None:
            problems.append(f"accounts/{aid}: its database exists without the account document")
        else:
            diff = sorted(
                k for k in set(public(copy)) | set(public(own)) | set(ACCOUNT_FIELDS_KEPT_IN_STEP)
                if copy.get(k) != own.get(k)
            )
            if diff:
                problems.append(f"accounts/{aid}: the `accounts` copy and the account database disagree on {', '.join(diff)}")
    leftovers = 0
    for aid, db in sorted(account_dbs.items()):
        if aid not in accounts_copies and not contents.get(db):
            # pouchdb-server re-creates, empty, a database that a read raced the deletion
            # of (GET /db/doc during DELETE /db); Apache CouchDB does not. Not the service's.
            leftovers += 1
            continue
        if aid not in account_docs:
            problems.append(f"{db}: an account database without its account document; it holds {held(db)}")
        if aid not in accounts_copies:
            problems.append(f"{db}: an account database with no entry in `accounts`; it holds {held(db)}")
    for db, aid in modbs:
        if aid not in account_dbs and aid not in accounts_copies:
            if not contents.get(db):
                leftovers += 1
                continue
            problems.append(f"{db}: a MODB of an account that does not exist; it holds {held(db)}")
    counts["empty_leftover_databases"] = leftovers

    # 4. recordings
    with_audio = pending = 0
    for db, doc in recordings:
        did = doc["_id"]
        if doc.get("_attachments") or doc.get("pvt_attachments"):
            with_audio += 1
            continue
        job_here = [j for j in jobs.get(did, []) if j.get("db") in (None, db)]
        if job_here:
            pending += 1
            continue
        problems.append(f"{db}/{did} (call_recording): no audio (no attachment, no stub) and no pending delivery")
    # 5. listings
    listed_n = 0
    for (aid, what), ids in sorted(listed.items()):
        for did in ids:
            listed_n += 1
            doc = by_id.get((aid, did))
            if doc is None:
                problems.append(f"GET /v2/accounts/{aid}/{what} lists {did}, which has no document")
            elif doc.get("pvt_deleted"):
                problems.append(f"GET /v2/accounts/{aid}/{what} lists {did}, which is deleted (pvt_deleted)")
    counts["listed_checked"] = listed_n
    counts["recordings_with_audio"] = with_audio
    counts["recordings_pending_delivery"] = pending
    counts["spool_jobs"] = sum(len(v) for v in jobs.values())
    counts["accounts"] = len(accounts_copies)
    counts["problems"] = len(problems)

    print(
        f"documents: {counts['databases']} databases, {counts['documents']} documents, "
        f"{counts['typed_documents']} checked, {listed_n} listed ids ("
        + ", ".join(f"{k} {v}" for k, v in sorted(by_type.items()))
        + f"); recordings with audio {with_audio}, pending delivery {pending}; "
        f"{counts['spool_jobs']} spool jobs; {leftovers} empty databases of deleted accounts "
        f"(pouchdb-server leftovers, not counted); problems: {len(problems)}"
    )
    for line in problems[: a.max_print]:
        print("  PROBLEM " + line)
    if len(problems) > a.max_print:
        print(f"  … and {len(problems) - a.max_print} more")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"counts": counts, "by_type": by_type, "problems": problems}, f, indent=1)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
