#!/usr/bin/env python3
"""Turns the k6 outputs of one run.sh invocation into a summary: <out>.md, <out>.json and a
chart <out>.png (requests per second and p95 latency, per second of the run).

Reads, for each scenario name given, from the scratch folder: <name>.summary.json (k6
--summary-export), <name>.csv.gz (k6 --out csv), <name>.meta.json (server CPU and peak RSS,
settings, exit codes), <name>.audit.json (audit.py), <name>.k6.time (k6's own CPU),
<name>.metrics.txt and <name>.metrics-before.txt (the server's /metrics after and before k6's
run) and, when present, fsync.txt (the fsync ceiling). For stampede and opening it also
checks the admission order from the ADMIT lines the buyers logged; for opening, from the
PLACE lines, that the places drawn at the opening are a permutation of 1..n, uncorrelated
with the joining order.
Exits 1 when anything failed.
"""

import argparse
import bisect
import csv
import gzip
import json
import os
import platform
import sys
from collections import defaultdict

# Targets of the performance issue, on a 2-core machine with k6 beside the server: the flow's
# request rate against /health's in the same invocation, the flow's p95 against /health's at
# the same VUs, the server's own p99 (its /metrics histogram) for every request of the flow,
# and the stampede's status polls, as the server and as k6 sees them.
FLOW_SHARE_OF_HEALTH = 0.65
FLOW_P95_OF_HEALTH = 1.5
FLOW_SERVER_P99_MS = 2.0
FLOW_ROUTES = ("issueToken", "queueStatus", "getConcert", "getSeats", "reserveSeat",
               "chargeBalance", "pay")
STAMPEDE_SERVER_POLL_P99_MS = 1.0
STAMPEDE_POLL_P99_MS = 50.0
# The opening's shuffle: |Spearman rho| between joining order and place, from this many
# buyers on. Under a uniform shuffle rho has a standard deviation of 1/sqrt(n - 1), so a fair
# shuffle stays under 0.05 but for about 2.5% of runs of 2,000 buyers and virtually always
# from 5,000 on (3.5 deviations); below 2,000 rho is reported, not judged.
OPENING_MAX_RHO = 0.05
OPENING_MIN_BUYERS = 2000


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        # Missing, or left empty by a step that did not finish (an interrupted audit).
        return None


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
    }


def failed_checks(group, out):
    for c in group.get("checks", {}).values() if isinstance(group.get("checks"), dict) else group.get("checks", []):
        if c.get("fails"):
            out[c["name"]] = out.get(c["name"], 0) + c["fails"]
    groups = group.get("groups", {})
    for g in groups.values() if isinstance(groups, dict) else groups:
        failed_checks(g, out)
    return out


def tagged_table(metrics, tag):
    """Per value of the k6 tag `tag`: count, rate, p50/p95/p99/max latency in ms."""
    prefix = f"http_req_duration{{{tag}:"
    rows = {}
    for key, m in metrics.items():
        if key.startswith(prefix):
            value = key[len(prefix):-1]
            reqs = metrics.get(f"http_reqs{{{tag}:{value}}}", {})
            rows[value] = {
                "count": reqs.get("count", m.get("count", 0)),
                "rate": reqs.get("rate", 0.0),
                "p50": m.get("med"),
                "p95": m.get("p(95)"),
                "p99": m.get("p(99)"),
                "max": m.get("max"),
            }
    return rows


def requests_table(metrics):
    """Per request name: count, rate, p50/p95/p99/max latency in ms."""
    return tagged_table(metrics, "name")


def kinds_table(metrics):
    """Per kind of request (pages.js tags each page, asset or API call with `kind`): count,
    rate, p50/p95/p99/max latency in ms and, for pages and assets, the share answered 304."""
    rows = tagged_table(metrics, "kind")
    for kind, row in rows.items():
        row["not_modified"] = metrics.get(f"not_modified{{kind:{kind}}}", {}).get("value")
    return rows


def series(path):
    """Per second: requests and p95 latency (ms), over every request of the run; and the
    failed checks by name (k6's summary export no longer names them)."""
    per_second = defaultdict(list)
    failed = defaultdict(int)
    if not os.path.exists(path):
        return [], {}
    with gzip.open(path, "rt", newline="") as f:
        header = next(csv.reader([f.readline()]))
        t_col, v_col = header.index("timestamp"), header.index("metric_value")
        check_col = header.index("check") if "check" in header else None
        for line in f:
            if line.startswith("http_req_duration,"):
                row = next(csv.reader([line]))
                per_second[int(float(row[t_col]))].append(float(row[v_col]))
            elif line.startswith("checks,") and check_col is not None:
                row = next(csv.reader([line]))
                if float(row[v_col]) == 0:
                    failed[row[check_col]] += 1
    if not per_second:
        return [], dict(failed)
    start = min(per_second)
    out = []
    for second in range(start, max(per_second) + 1):
        values = sorted(per_second.get(second, []))
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))] if values else None
        out.append({"t": second - start, "rps": len(values), "p95": p95})
    return out, dict(failed)


def admission_order(path):
    """Buyers told "waiting" in a poll sent after a buyer behind them was told "active"."""
    admitted, waiting_last = [], []
    not_admitted = 0
    try:
        with open(path, errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 4 and parts[0] == "ADMIT":
                    seq, last_wait, active_at = (int(p) for p in parts[1:])
                    if seq < 0:
                        continue  # opening: no place read (a failed check already)
                    admitted.append((seq, active_at))
                    waiting_last.append((seq, last_wait))
                elif len(parts) == 3 and parts[0] == "NOT_ADMITTED":
                    not_admitted += 1
                    waiting_last.append((int(parts[1]), int(parts[2])))
    except FileNotFoundError:
        return None
    # For each buyer, the earliest "active" answer received by anyone behind it in line.
    admitted.sort()
    seqs = [s for s, _ in admitted]
    suffix_min = [0] * (len(admitted) + 1)
    suffix_min[len(admitted)] = float("inf")
    for i in range(len(admitted) - 1, -1, -1):
        suffix_min[i] = min(admitted[i][1], suffix_min[i + 1])
    out_of_order = 0
    for seq, last_wait in waiting_last:
        if last_wait < 0:
            continue
        behind = suffix_min[bisect.bisect_right(seqs, seq)]
        if behind < last_wait:
            out_of_order += 1
    return {"admitted": len(admitted), "not_admitted": not_admitted,
            "out_of_order": out_of_order}


def ranks(values):
    """1-based ranks of values, ties given their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs, ys):
    """Spearman's rank correlation: Pearson's of the ranks (ties averaged); None for n < 2."""
    n = len(xs)
    if n < 2:
        return None
    rx, ry = ranks(xs), ranks(ys)
    mean = (n + 1) / 2
    cov = sum((a - mean) * (b - mean) for a, b in zip(rx, ry))
    vx = sum((a - mean) ** 2 for a in rx)
    vy = sum((b - mean) ** 2 for b in ry)
    return cov / (vx * vy) ** 0.5 if vx and vy else None


def opening_order(path):
    """The opening (stampede.js OPENING=1): the crowd size from the OPENING line, each
    buyer's joining order (seq) and place from its PLACE line, and its first active answer
    from its ADMIT line (keyed by place). Checks that the places are exactly 1..n and gives
    Spearman's rho of joining order against place and against the moment of admission."""
    crowd = None
    places = []
    admitted_at = {}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 4 and parts[0] == "OPENING":
                    crowd = int(parts[3])
                elif len(parts) == 3 and parts[0] == "PLACE":
                    places.append((int(parts[1]), int(parts[2])))
                elif len(parts) == 4 and parts[0] == "ADMIT":
                    admitted_at[int(parts[1])] = int(parts[3])
    except FileNotFoundError:
        return None
    seen = [p for _, p in places if p > 0]
    permutation = (crowd is not None and len(places) == crowd
                   and sorted(seen) == list(range(1, crowd + 1)))
    with_place = [(s, p) for s, p in places if p > 0]
    rho_place = spearman([s for s, _ in with_place], [p for _, p in with_place])
    with_time = [(s, admitted_at[p]) for s, p in with_place if p in admitted_at]
    rho_admission = spearman([s for s, _ in with_time], [t for _, t in with_time])
    return {"crowd": crowd, "buyers_with_place": len(seen), "places_reported": len(places),
            "duplicate_places": len(seen) - len(set(seen)), "permutation": permutation,
            "rho_join_place": rho_place, "rho_join_admission": rho_admission}


def bucket_le(labels):
    """The upper bound of a Prometheus histogram bucket, from its labels (`le="..."`)."""
    le = labels.split('le="', 1)[1].split('"', 1)[0]
    return float("inf") if le == "+Inf" else float(le)


def upper_bound(cumulative, share, total):
    """The upper bound of the bucket the percentile `share` falls in, from cumulative counts
    by bound."""
    return next(b for b in sorted(cumulative) if cumulative[b] >= share * total)


def server_times(path):
    """Per route, the server's own p50/p95/p99 in ms from its Prometheus histogram
    (http_request_duration_seconds, all methods and statuses together): the upper bound of the
    bucket each percentile falls in. Includes the seeding's requests, which use other routes."""
    buckets = {}
    try:
        with open(path) as f:
            for line in f:
                if not line.startswith("http_request_duration_seconds_bucket{"):
                    continue
                labels, value = line.rsplit(" ", 1)
                route = labels.split('route="', 1)[1].split('"', 1)[0]
                bound = bucket_le(labels)
                per_route = buckets.setdefault(route, {})
                per_route[bound] = per_route.get(bound, 0) + float(value)
    except FileNotFoundError:
        return {}
    out = {}
    for route, cumulative in buckets.items():
        total = cumulative[max(cumulative)]
        if not total:
            continue
        q = {"count": int(total)}
        for name, share in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            q[name] = upper_bound(cumulative, share, total) * 1000
        out[route] = q
    return out


WRITER = (("queue", "boxoffice_store_write_queue_seconds"),
          ("batch", "boxoffice_store_write_batch_seconds"),
          ("write", "boxoffice_store_write_seconds"),
          ("size", "boxoffice_store_write_batch_size"))


def histograms(path, names):
    """The cumulative buckets, count and sum of each unlabelled histogram in `names`."""
    found = {n: {"buckets": {}, "count": 0.0, "sum": 0.0} for n in names}
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.rstrip().rpartition(" ")
                metric = key.split("{", 1)[0]
                for n in names:
                    if metric == f"{n}_bucket":
                        found[n]["buckets"][bucket_le(key)] = float(value)
                    elif metric == f"{n}_count":
                        found[n]["count"] = float(value)
                    elif metric == f"{n}_sum":
                        found[n]["sum"] = float(value)
    except FileNotFoundError:
        return None
    return found


def writer_times(scratch, name):
    """The SQLite writer during k6's run (the metrics scraped after it less those scraped before,
    so the seeding is left out): transactions, writes, the writes per transaction, and the
    p50/p99 in ms (upper bucket bounds) of a write's queue wait, a transaction and a write."""
    names = [n for _, n in WRITER]
    before = histograms(f"{scratch}/{name}.metrics-before.txt", names)
    after = histograms(f"{scratch}/{name}.metrics.txt", names)
    if not before or not after:
        return None
    out = {}
    for short, n in WRITER:
        count = after[n]["count"] - before[n]["count"]
        if count <= 0:
            return None
        cumulative = {b: c - before[n]["buckets"].get(b, 0.0)
                      for b, c in after[n]["buckets"].items()}
        q = {"count": int(count), "mean": (after[n]["sum"] - before[n]["sum"]) / count}
        for label, share in (("p50", 0.5), ("p99", 0.99)):
            bound = upper_bound(cumulative, share, count)
            q[label] = bound if short == "size" else bound * 1000
        out[short] = q
    return out


def scenario(scratch, name):
    summary = load_json(f"{scratch}/{name}.summary.json") or {"metrics": {}, "root_group": {}}
    metrics = summary.get("metrics", {})
    meta = load_json(f"{scratch}/{name}.meta.json") or {}
    audit = load_json(f"{scratch}/{name}.audit.json")
    k6_cpu = None
    try:
        with open(f"{scratch}/{name}.k6.time") as f:
            user, system = f.read().split()[-2:]
            k6_cpu = round(float(user) + float(system), 2)
    except (FileNotFoundError, ValueError):
        pass
    per_second, failed_by_name = series(f"{scratch}/{name}.csv.gz")
    reqs = metrics.get("http_reqs", {})
    duration = metrics.get("http_req_duration", {})
    checks = metrics.get("checks", {})
    result = {
        "name": name,
        "meta": meta,
        "requests": reqs.get("count", 0),
        "rate": reqs.get("rate", 0.0),
        "iterations": metrics.get("iterations", {}).get("count", 0),
        "purchase_rate": metrics.get("iterations", {}).get("rate", 0.0),
        "latency_ms": {k: duration.get(v) for k, v in
                       [("p50", "med"), ("p95", "p(95)"), ("p99", "p(99)"), ("max", "max")]},
        "by_request": requests_table(metrics),
        "by_kind": kinds_table(metrics),
        "checks_passed": checks.get("passes", 0),
        "checks_failed": checks.get("fails", 0),
        "failed_checks": failed_checks(summary.get("root_group", {}), {}) or failed_by_name,
        "server_errors": metrics.get("server_errors", {}).get("count", 0),
        "rate_limited": metrics.get("rate_limited", {}).get("count", 0),
        "k6_cpu_seconds": k6_cpu,
        "audit": audit,
        "series": per_second,
        "server_ms": server_times(f"{scratch}/{name}.metrics.txt"),
        # /health writes nothing; the jobs' few writes during it would only be noise.
        "writer": writer_times(scratch, name) if name != "health" else None,
    }
    for counter in ("holds_won", "holds_lost"):
        if counter in metrics:
            result[counter] = metrics[counter].get("count", 0)
    if name in ("stampede", "opening"):
        result["admission_order"] = admission_order(f"{scratch}/{name}.k6.err")
    if name == "opening":
        result["opening"] = opening_order(f"{scratch}/{name}.k6.err")
    return result


def verdicts(results, fsync):
    """(target, measured, passed, is_speed) for the targets that apply to this invocation.
    Speed targets are reported, not enforced: a busy machine must not fail a smoke run."""
    out = []
    by = {r["name"]: r for r in results}
    for r in results:
        if r["name"] == "crash":
            # Failed checks are the point of a crash; the audit below is the verdict.
            continue
        out.append((f"{r['name']}: no failed checks", f"{r['checks_failed']} failed",
                    r["checks_failed"] == 0 and r["checks_passed"] > 0, False))
        out.append((f"{r['name']}: no 5xx", str(r["server_errors"]), r["server_errors"] == 0,
                    False))
    if "flow" in by:
        f = by["flow"]
        p95 = f["latency_ms"]["p95"] or 0
        if "health" in by and by["health"]["rate"]:
            h = by["health"]
            share = f["rate"] / h["rate"]
            out.append((f"flow: request rate >= {FLOW_SHARE_OF_HEALTH:.0%} of /health's",
                        f"{share:.0%} ({f['rate']:.0f} vs {h['rate']:.0f} req/s)",
                        share >= FLOW_SHARE_OF_HEALTH, True))
            health_p95 = h["latency_ms"]["p95"] or 0
            if health_p95:
                out.append((f"flow: p95 <= {FLOW_P95_OF_HEALTH:g} x /health's p95 (same VUs)",
                            f"{p95 / health_p95:.2f} x ({p95:.2f} vs {health_p95:.2f} ms)",
                            p95 <= FLOW_P95_OF_HEALTH * health_p95, True))
        server = f.get("server_ms") or {}
        routes = [(route, server[route]["p99"]) for route in FLOW_ROUTES if route in server]
        if routes:
            worst, worst_p99 = max(routes, key=lambda r: r[1])
            out.append((f"flow: server p99 <= {FLOW_SERVER_P99_MS:g} ms for every request",
                        f"at most {worst_p99:g} ms ({worst}; bucket bound)",
                        worst_p99 <= FLOW_SERVER_P99_MS and len(routes) == len(FLOW_ROUTES),
                        True))
    for name in ("stampede", "opening"):
        if name not in by:
            continue
        s = by[name]
        poll = s["by_request"].get("queueStatus", {}).get("p99") or 0
        out.append((f"{name}: status poll p99 <= {STAMPEDE_POLL_P99_MS:g} ms (k6)",
                    f"{poll:.2f} ms", poll <= STAMPEDE_POLL_P99_MS, True))
        server_poll = (s.get("server_ms") or {}).get("queueStatus", {}).get("p99")
        if server_poll is not None:
            out.append((f"{name}: status poll p99 <= {STAMPEDE_SERVER_POLL_P99_MS:g} ms "
                        "(the server's own)", f"{server_poll:g} ms (bucket bound)",
                        server_poll <= STAMPEDE_SERVER_POLL_P99_MS, True))
        order = s.get("admission_order") or {}
        out.append((f"{name}: nobody admitted out of order"
                    + (" (by the place drawn at the opening)" if name == "opening" else ""),
                    f"{order.get('out_of_order', '?')} out of order, "
                    f"{order.get('admitted', '?')} admitted",
                    order.get("out_of_order") == 0 and order.get("admitted", 0) > 0, False))
    if "opening" in by:
        o = by["opening"].get("opening") or {}
        crowd = o.get("crowd")
        out.append(("opening: the places are a permutation of 1..n (dense, no duplicates)",
                    f"{o.get('buyers_with_place', '?')} places of {crowd}, "
                    f"{o.get('duplicate_places', '?')} duplicates",
                    bool(o.get("permutation")), False))
        rho = o.get("rho_join_place")
        judged = crowd is not None and crowd >= OPENING_MIN_BUYERS
        measured = "-" if rho is None else f"{rho:+.4f}"
        if not judged:
            measured += f" (not judged below {OPENING_MIN_BUYERS} buyers)"
        out.append((f"opening: |Spearman rho| of joining order and place < {OPENING_MAX_RHO:g}",
                    measured,
                    rho is not None and (abs(rho) < OPENING_MAX_RHO or not judged), False))
    if "race" in by:
        r = by["race"]
        counts = (r["audit"] or {}).get("counts", {})
        out.append(("race: each seat held once", f"{r.get('holds_won', 0)} holds won, "
                    f"at most {counts.get('most_reservations_of_one_seat', '?')} per seat",
                    counts.get("most_reservations_of_one_seat") == 1, False))
    for r in results:
        if r["audit"] is not None:
            bad = {k: v for k, v in r["audit"]["problems"].items() if v}
            out.append((f"{r['name']}: database audit", "ok" if not bad else json.dumps(bad),
                        not bad, False))
    return out


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def markdown(results, fsync, checks, mach, title):
    lines = [f"# {title}", ""]
    lines.append(f"Machine: {mach['cores']} cores ({mach['cpu']}), {mach['memory_gib']} GiB, "
                 f"Linux {mach['kernel']}.")
    if fsync:
        each = (f"; one commit p50 {fsync['p50_ms']:.2f} ms, p99 {fsync['p99_ms']:.2f} ms, the "
                "least a durable write waits" if "p50_ms" in fsync else "")
        lines.append(f"fsync ceiling: {fsync['commits_per_second']:.0f} durable single-row "
                     f"commits/s (WAL, synchronous=FULL){each}.")
    lines.append("")
    lines += ["| target | measured | |", "| --- | --- | --- |"]
    for target, measured, ok, _ in checks:
        lines.append(f"| {target} | {measured} | {'pass' if ok else '**FAIL**'} |")
    for r in results:
        m = r["meta"]
        lines += ["", f"## {r['name']}", ""]
        lines.append(f"Settings: build {m.get('build', '?')}, duration {m.get('duration')}, "
                     f"sync={m.get('sync')}, "
                     f"write batch {m.get('write_batch')}, flags `{m.get('flags', '').strip()}`"
                     + (f", k6 at nice {m['k6_nice']}" if m.get("k6_nice") else "") + "; "
                     f"load average before {m.get('load_before')}, after {m.get('load_after')}.")
        if m.get("cluster"):
            c = m["cluster"]
            lines.append("")
            lines.append(f"Cluster: {c.get('instances')} instances, {c.get('db')}, "
                         f"{c.get('queue')}; k6 VUs alternate between them. "
                         f"{c.get('per_instance')}. Audit: {c.get('audit')}.")
        lines.append("")
        lines.append(f"- requests: {r['requests']} ({r['rate']:.0f}/s), iterations "
                     f"{r['iterations']}; latency p50 {fmt(r['latency_ms']['p50'])} ms, p95 "
                     f"{fmt(r['latency_ms']['p95'])} ms, p99 {fmt(r['latency_ms']['p99'])} ms, "
                     f"max {fmt(r['latency_ms']['max'])} ms")
        lines.append(f"- checks: {r['checks_passed']} passed, {r['checks_failed']} failed"
                     + (f" ({json.dumps(r['failed_checks'])})" if r["failed_checks"] else ""))
        lines.append(f"- 5xx: {r['server_errors']}, 429: {r['rate_limited']}")
        if m.get("server_cpu_seconds") is not None:
            lines.append(f"- server CPU {fmt(m['server_cpu_seconds'])} s during the run, peak "
                         f"RSS {fmt((m.get('server_peak_rss_kib') or 0) / 1024, 1)} MiB; "
                         f"k6 CPU {fmt(r['k6_cpu_seconds'])} s")
        if r["name"] in ("flow", "pages") and r["iterations"]:
            # Each iteration of these is one buyer who paid (a failed check fails the run).
            n = r["iterations"]
            cpu = m.get("server_cpu_seconds")
            k6 = r["k6_cpu_seconds"]
            lines.append(f"- per purchase: {r['purchase_rate']:.1f} purchases/s; "
                         f"{r['requests'] / n:.1f} requests, server CPU "
                         f"{fmt(None if cpu is None else cpu * 1000 / n)} ms, k6 CPU "
                         f"{fmt(None if k6 is None else k6 * 1000 / n)} ms")
        if "holds_won" in r:
            lines.append(f"- holds won {r['holds_won']}, lost {r.get('holds_lost', 0)}")
        if r.get("admission_order"):
            o = r["admission_order"]
            lines.append(f"- admitted {o['admitted']}, not admitted {o['not_admitted']}, "
                         f"out of order {o['out_of_order']}")
        if r.get("opening"):
            o = r["opening"]
            rho_a = o["rho_join_admission"]
            lines.append(f"- opening: a crowd of {o['crowd']} buyers, "
                         f"{o['buyers_with_place']} read a place during the hold "
                         f"({o['duplicate_places']} duplicates; a permutation of 1..n: "
                         f"{'yes' if o['permutation'] else 'no'}); Spearman rho of joining "
                         f"order and place {fmt(o['rho_join_place'], 4)}, of joining order "
                         f"and the moment let in {fmt(rho_a, 4)}")
        counts = (r["audit"] or {}).get("counts", {})
        if "payments_confirmed_to_clients" in counts:
            confirmed = counts["payments_confirmed_to_clients"]
            found = counts["confirmed_payments_found"]
            lines.append(f"- crash: {m.get('kills')} SIGKILLs; payments confirmed to clients "
                         f"{confirmed}, found after the crashes {found}, lost "
                         f"{confirmed - found}; committed while the answer was lost in the "
                         f"crash {counts['payments'] - found}")
        if r["audit"]:
            lines.append(f"- audit: {json.dumps(r['audit']['counts'])}")
        if r["by_request"]:
            lines += ["", "| request | count | req/s | p50 ms | p95 ms | p99 ms | max ms |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for name, q in r["by_request"].items():
                lines.append(f"| {name} | {q['count']} | {q['rate']:.0f} | {fmt(q['p50'])} | "
                             f"{fmt(q['p95'])} | {fmt(q['p99'])} | {fmt(q['max'])} |")
        if r.get("by_kind"):
            n = r["iterations"] or 1
            lines += ["", "| kind | count | per purchase | p50 ms | p95 ms | p99 ms | max ms "
                      "| answered 304 |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for kind, q in r["by_kind"].items():
                if not q["count"]:
                    continue  # PAGES_STATIC=0: no pages or assets
                share = "-" if q["not_modified"] is None else f"{q['not_modified']:.1%}"
                lines.append(f"| {kind} | {q['count']} | {q['count'] / n:.1f} | {fmt(q['p50'])} "
                             f"| {fmt(q['p95'])} | {fmt(q['p99'])} | {fmt(q['max'])} | {share} |")
        served = {n: q for n, q in (r.get("server_ms") or {}).items() if n in r["by_request"]}
        if served:
            lines += ["", "Time in the server, from its own histogram (the request's time from "
                      "the middleware's start to the answer, without the time it waited for a "
                      "CPU before that; each figure is the upper bound of the histogram bucket "
                      "the percentile falls in):", "",
                      "| request | count | p50 ms ≤ | p95 ms ≤ | p99 ms ≤ |",
                      "| --- | ---: | ---: | ---: | ---: |"]
            for name, q in served.items():
                lines.append(f"| {name} | {q['count']} | {q['p50']:g} | {q['p95']:g} | "
                             f"{q['p99']:g} |")
        w = r.get("writer")
        if w:
            q, b, t = w["queue"], w["batch"], w["write"]
            lines += ["", f"The SQLite writer during the run: {b['count']} transactions of "
                      f"{w['size']['mean']:.1f} writes on average ({t['count']} writes); a "
                      f"write waited in its queue p50 ≤ {q['p50']:g} ms, p99 ≤ {q['p99']:g} ms "
                      f"(mean {q['mean'] * 1000:.2f} ms); a transaction took p50 ≤ "
                      f"{b['p50']:g} ms, p99 ≤ {b['p99']:g} ms (mean {b['mean'] * 1000:.2f} ms); "
                      f"a write, until its request ran again, p50 ≤ {t['p50']:g} ms, p99 ≤ "
                      f"{t['p99']:g} ms (mean {t['mean'] * 1000:.2f} ms)."]
    return "\n".join(lines) + "\n"


def plot(results, path, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("summarize: no matplotlib, no chart", file=sys.stderr)
        return False
    drawn = [r for r in results if r["series"]]
    if not drawn:
        return False
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for r in drawn:
        t = [p["t"] for p in r["series"]]
        top.plot(t, [p["rps"] for p in r["series"]], label=r["name"])
        bottom.plot(t, [p["p95"] for p in r["series"]], label=r["name"])
    top.set_ylabel("requests/s")
    bottom.set_ylabel("p95 latency (ms)")
    bottom.set_xlabel("seconds into the run")
    top.set_title(title)
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right")
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scratch", required=True)
    ap.add_argument("--out", required=True, help="path without extension")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("names", nargs="+")
    args = ap.parse_args()

    fsync = None
    try:
        with open(f"{args.scratch}/fsync.txt") as f:
            words = f.read().split()
            fsync = {"commits_per_second": float(words[1]), "commits": int(words[3])}
            if len(words) >= 10:
                fsync["p50_ms"], fsync["p99_ms"] = float(words[7]), float(words[9])
    except (FileNotFoundError, IndexError, ValueError):
        pass
    results = [scenario(args.scratch, n) for n in args.names]
    checks = verdicts(results, fsync)
    mach = machine()
    title = f"boxoffice load test: {', '.join(args.names)} ({os.path.basename(args.out)})"
    with open(f"{args.out}.md", "w") as f:
        f.write(markdown(results, fsync, checks, mach, title))
    with open(f"{args.out}.json", "w") as f:
        json.dump({"machine": mach, "fsync": fsync, "results": results,
                   "targets": [{"target": t, "measured": m, "passed": ok, "speed": speed}
                               for t, m, ok, speed in checks]}, f, indent=1)
    if not args.no_plot:
        plot(results, f"{args.out}.png", title)
    print(f"summary: {args.out}.md", file=sys.stderr)
    for target, measured, ok, speed in checks:
        verdict = "pass" if ok else ("slow" if speed else "FAIL")
        print(f"  {verdict}  {target}: {measured}", file=sys.stderr)
    hard = [ok for _, _, ok, speed in checks if not speed]
    run_failed = any(r["meta"].get("k6_status") or r["meta"].get("audit_status")
                     for r in results)
    return 0 if all(hard) and not run_failed else 1


if __name__ == "__main__":
    sys.exit(main())
