#!/usr/bin/env python3
"""The fuzzing run's summary (scripts/fuzz-api.sh): requests sent (from the hooks' request
log), status classes, every 5xx and every unanswered request with a curl command that
replays it and the service log lines of that request, panics in the service log, the
document check's figures, wall time. Exit status 1 on any finding. Stdlib only."""

import argparse
import calendar
import collections
import json
import re
import sys
import time

STAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z\s+(\w+)")


def log_time(line):
    """(unix time, level) of a service log line, or (None, None)."""
    m = STAMP.match(line)
    if not m:
        return None, None
    y, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
    return calendar.timegm((y, mo, d, h, mi, sec)) + float(m.group(7) or 0), m.group(8)


def load(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def request_id(rec):
    for k, v in (rec.get("response_headers") or {}).items():
        if k.lower() == "x-request-id":
            return v
    try:
        return json.loads(rec.get("response_body") or "").get("request_id")
    except (ValueError, AttributeError):
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--service-log", required=True)
    p.add_argument("--docs", required=True)
    p.add_argument("--started", type=int, required=True)
    p.add_argument("--fuzz-started", type=int, required=True)
    p.add_argument("--seed", required=True)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--service-alive", type=int, default=1)
    p.add_argument("--min-requests", type=int, default=0)
    p.add_argument("--operations", type=int, default=0, help="operations in the description")
    a = p.parse_args()

    recs = load(a.log)
    resps = [r for r in recs if r.get("ev") == "resp"]
    unanswered = [r for r in recs if r.get("ev") == "no_response"]
    interrupted = [r for r in recs if r.get("ev") == "interrupted"]
    sent = len(resps) + len(unanswered)
    classes = collections.Counter(f"{r['status'] // 100}xx" for r in resps)
    ops_2xx = {r["op"] for r in resps if 200 <= r["status"] < 300}
    ops_all = {r["op"] for r in resps}
    errors = [r for r in resps if r["status"] >= 500]
    deliberate = [r for r in errors if r.get("deliberate")]
    server_errors = [r for r in errors if not r.get("deliberate")]
    with open(a.service_log, errors="replace") as f:
        service_log = f.read().splitlines()
    panics = [i for i, line in enumerate(service_log) if "panicked" in line]
    log_levels = collections.Counter(log_time(line)[1] for line in service_log)
    try:
        with open(a.docs) as f:
            docs = json.load(f)
    except (OSError, ValueError):
        docs = {"counts": {}, "problems": ["the document check did not finish"]}
    now = int(time.time())
    wall, fuzz = now - a.started, now - a.fuzz_started

    if server_errors:
        groups = collections.OrderedDict()
        for r in server_errors:
            try:
                msg = json.loads(r.get("response_body") or "").get("message")
            except (ValueError, AttributeError):
                msg = None
            groups.setdefault((r["op"], r["status"], msg), []).append(r)
        print(f"\n== {len(server_errors)} server errors (5xx), {len(groups)} kinds")
        for (op, status, msg), rs in groups.items():
            r = rs[0]
            print(f"\n-- {status} on {op} ({len(rs)}x), message {msg!r}")
            print(f"request:  {r['method']} {r['url']}")
            print(f"headers:  {json.dumps(r['headers'])}")
            print(f"body:     {(r.get('body') or '')[:1500]}")
            print(f"response: {(r.get('response_body') or '')[:1500]}")
            rid = request_id(r)
            lines = [line for line in service_log if rid and rid in line]
            # Errors logged while the request ran (the datastore's answer, for a 503).
            start = r.get("t", 0) - r.get("ms", 0) / 1000 - 0.2
            for line in service_log:
                t, level = log_time(line)
                if t and level in ("ERROR", "WARN") and start <= t <= r.get("t", 0) + 0.2 and line not in lines:
                    lines.append(line)
            if lines:
                print("service log:")
                for line in lines[:12]:
                    print("  " + line)
            print("reproduce:")
            print("  " + r["curl"])
    if unanswered:
        print(f"\n== {len(unanswered)} requests without an answer (timeout, reset)")
        for r in unanswered[:10]:
            print(f"-- #{r['n']} {r['op']}: {r.get('error', 'no answer before the run ended')}"
                  f" (after {r.get('after_s', '?')} s)\n  {r['curl']}")
    if not a.service_alive:
        print("\n== the service was not running any more at the end; the last lines of its log:")
        for line in service_log[-15:]:
            print("  " + line)
    if panics:
        print(f"\n== {len(panics)} panics in the service log")
        for i in panics[:10]:
            for line in service_log[max(0, i - 2): i + 8]:
                print("  " + line)
            print("  --")

    errors_by_text = collections.Counter(
        STAMP.sub("", line).strip()[:200] for line in service_log if log_time(line)[1] == "ERROR"
    )
    if errors_by_text:
        print(f"\n== ERROR lines in the service log ({sum(errors_by_text.values())}), by text")
        for text, n in errors_by_text.most_common(12):
            print(f"  {n:5d}x {text}")

    c = docs.get("counts", {})
    problems = docs.get("problems", [])
    print("\n== summary")
    print(f"requests sent:        {sent} (in {a.rounds} round(s), seed {a.seed}; "
          + ", ".join(f"{k} {v}" for k, v in sorted(classes.items()))
          + f"; {len(ops_all)}" + (f" of {a.operations}" if a.operations else "")
          + f" operations, {len(ops_2xx)} with a 2xx answer"
          + (f"; {len(interrupted)} cut by the time budget" if interrupted else "") + ")")
    print(f"5xx responses:        {len(server_errors)}"
          + (f" (+{len(deliberate)} deliberate 500 account_has_descendants, as KAZOO)" if deliberate else ""))
    print(f"unanswered requests:  {len(unanswered)}")
    print(f"panics in the log:    {len(panics)}" + ("" if a.service_alive else " (the service had died)")
          + f"; {log_levels.get('ERROR', 0)} ERROR and {log_levels.get('WARN', 0)} WARN lines")
    print(f"documents checked:    {c.get('typed_documents', 0)} typed of {c.get('documents', 0)} "
          f"in {c.get('databases', 0)} databases")
    print(f"half-written docs:    {len(problems)}")
    print(f"wall time:            {wall // 60} min {wall % 60} s (fuzzing and checks {fuzz // 60} min {fuzz % 60} s;"
          " the rest: install, build, seed)")
    failed = bool(server_errors or unanswered or panics or problems or not a.service_alive)
    if sent < a.min_requests:
        print(f"FEWER REQUESTS THAN ASKED: {sent} < {a.min_requests}")
        failed = True
    print("RESULT: " + ("FINDINGS (see above)" if failed else "clean"))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
