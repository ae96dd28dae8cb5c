#!/usr/bin/env python3
"""Derive our schemas/ from KAZOO's published crossbar schemas.

The wire contract (field names, types, enums, bounds, patterns, required
lists, defaults, combinators, KAZOO keywords) must match KAZOO exactly, so we
copy the structure of every schema our endpoints can reach and leave out the
prose: `description` annotations are dropped (a handful of top-level ones are
replaced by our own one-liners below), and so is `support_level`, which is
documentation only. Output is sorted by key with a 4-space indent, so the
validator walks keywords in the same order as KAZOO's (sorted) files.

Usage:
    scripts/derive_schemas.py [--reference DIR] [--out DIR] [--check]

--check writes nothing and exits 1 when schemas/ differs from what would be
generated (for CI). Standard library only.
"""

import argparse
import json
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = (
    REPO.parent
    / "shared/kazoo-reference/applications/crossbar/priv/couchdb/schemas"
)
DEFAULT_OUT = REPO / "schemas"

# The request bodies we validate; every `callflows.*`, `metaflows.*` and
# `storage.*` schema is added too, because callflow/metaflow `data` and storage
# handlers are checked against them by name at run time.
ROOTS = [
    "accounts",
    "users",
    "devices",
    "callflows",
    "metaflows",
    "metaflow",
    "storage",
    "call_recording",
    "call_recording.source",
    "call_recording.parameters",
    "user_auth",
    "api_auth",
    "queues",
    "whitelabel",
    "limits",
    "app",
    "cdrs",
]
ROOT_PREFIXES = ("callflows.", "metaflows.", "storage.")

# Our own one-line descriptions for the schemas people read first.
DESCRIPTIONS = {
    "accounts": "An account (tenant): its name, realm, defaults and limits.",
    "users": "A person in an account who can log in, own devices and receive calls.",
    "devices": "A SIP phone, softphone or other endpoint that places and receives calls.",
    "callflows": "Numbers and patterns that route a call, and the tree of actions to run.",
    "storage": "Where an account keeps its attachments, such as call recordings.",
    "call_recording": "When to record calls, split by call direction.",
    "metaflows": "In-call key presses (DTMF) and the actions they trigger.",
    "queues": "A call-centre queue: how callers wait and how agents are rung.",
    "whitelabel": "An account's branding for Monster UI: company name, domain, images.",
    "limits": "An account's trunk and call limits.",
    "app": "A Monster UI app offered in the app store.",
    "cdrs": "A call detail record: one call leg, as the switch reported it.",
    "user_auth": "Log in with a username/password hash and an account identifier.",
    "api_auth": "Log in with an account's API key.",
    "callflows.record_call": "Callflow action that starts or stops recording the call.",
    "metaflows.record_call": "In-call action that starts or stops recording the call.",
}

DROPPED_ANNOTATIONS = {"description", "support_level"}

# Keywords whose value is a map of name -> schema.
SCHEMA_MAPS = {"properties", "patternProperties", "definitions"}
# Keywords whose value is a schema (or, for some, a boolean / list of schemas).
SCHEMA_VALUES = {"additionalProperties", "additionalItems", "items", "not"}
SCHEMA_LISTS = {"oneOf", "anyOf", "allOf"}


def strip_schema(schema):
    """Copy a schema, dropping annotations but never touching data values.

    Only schema positions are walked: `default`, `enum` and the like are data
    and may legitimately contain a key called "description".
    """
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in DROPPED_ANNOTATIONS:
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strip_schema(sub) for name, sub in value.items()}
        elif key in SCHEMA_VALUES:
            if isinstance(value, list):
                out[key] = [strip_schema(sub) for sub in value]
            else:
                out[key] = strip_schema(value)
        elif key in SCHEMA_LISTS and isinstance(value, list):
            out[key] = [strip_schema(sub) for sub in value]
        elif key == "dependencies" and isinstance(value, dict):
            out[key] = {
                name: strip_schema(sub) if isinstance(sub, dict) else sub
                for name, sub in value.items()
            }
        else:
            out[key] = value
    return out


def refs_of(schema, found):
    """Collect every `$ref` target (bare schema names) inside a schema."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value)
            else:
                refs_of(value, found)
    elif isinstance(schema, list):
        for value in schema:
            refs_of(value, found)


def closure(reference):
    names = {p.stem for p in reference.glob("*.json")}
    todo = list(ROOTS) + sorted(n for n in names if n.startswith(ROOT_PREFIXES))
    seen = {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in names:
            sys.exit(f"schema {name!r} is referenced but missing from {reference}")
        with open(reference / f"{name}.json", encoding="utf-8") as f:
            seen[name] = json.load(f)
        found = set()
        refs_of(seen[name], found)
        todo.extend(sorted(found))
    return seen


def render(name, schema):
    derived = strip_schema(schema)
    if name in DESCRIPTIONS:
        derived["description"] = DESCRIPTIONS[name]
    return json.dumps(derived, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=pathlib.Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    schemas = closure(args.reference)
    wanted = {f"{name}.json": render(name, s) for name, s in schemas.items()}
    existing = {p.name for p in args.out.glob("*.json")} if args.out.is_dir() else set()

    stale = sorted(existing - wanted.keys())
    changed = sorted(
        file
        for file, text in wanted.items()
        if not (args.out / file).is_file()
        or (args.out / file).read_text(encoding="utf-8") != text
    )
    if args.check:
        for file in changed:
            print(f"out of date: {file}")
        for file in stale:
            print(f"not in the closure: {file}")
        sys.exit(1 if changed or stale else 0)

    args.out.mkdir(parents=True, exist_ok=True)
    for file in changed:
        (args.out / file).write_text(wanted[file], encoding="utf-8")
    for file in stale:
        (args.out / file).unlink()
    print(f"{len(wanted)} schemas, {len(changed)} written, {len(stale)} removed")


if __name__ == "__main__":
    main()
