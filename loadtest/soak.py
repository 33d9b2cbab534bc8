#!/usr/bin/env python3
"""The soak scenario's two halves (loadtest/run.sh soak).

sample: every EVERY seconds until the server exits or UNTIL seconds have passed, one CSV row
of the server's state: its CPU seconds (utime + stime), RSS, the database and WAL sizes, and
the payments it has counted (boxoffice_payments_total{outcome="completed"} from /metrics).

    soak.py sample --pid PID --db DB --base URL --out samples.csv [--every 10] [--until 3600]

report: minute by minute, from those samples and k6's CSV output: purchases per second, p95 of
every request k6 sent in that minute, the server's CPU per purchase, RSS, database and WAL
sizes; then the first and last full minutes side by side, with the soak targets of
loadtest/REPORT.md (CPU per purchase in the last minute within 10% of the first; RSS levels off;
the WAL stays bounded). Writes JSON and Markdown; exits 1 when a target is missed.

    soak.py report --samples samples.csv --k6-csv soak.csv.gz --out PREFIX
"""

import argparse
import csv
import gzip
import json
import os
import sys
import time
import urllib.request
from collections import defaultdict

PAID = 'boxoffice_payments_total{outcome="completed"}'


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def paid(base):
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(PAID):
                    return int(float(line.rsplit(" ", 1)[1]))
    except OSError:
        return None
    return 0


def sample(args):
    fields = ["t", "cpu_s", "rss_kib", "db_bytes", "wal_bytes", "paid"]
    start = time.monotonic()
    with open(args.out, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(fields)
        # Bounded: at most UNTIL seconds, and it stops when the server is gone.
        for _ in range(int(args.until / args.every) + 1):
            try:
                row = [round(time.monotonic() - start, 2), cpu_seconds(args.pid),
                       rss_kib(args.pid), size(args.db), size(args.db + "-wal"), paid(args.base)]
            except OSError:
                break
            if row[-1] is None:
                break
            out.writerow(row)
            f.flush()
            time.sleep(max(0.0, args.every - (time.monotonic() - start) % args.every))


def read_samples(path):
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def k6_minutes(path):
    """Per minute since the first request: p95 (ms) of every request, and the requests."""
    per_minute = defaultdict(list)
    if not os.path.exists(path):
        return {}
    with gzip.open(path, "rt", newline="") as f:
        header = next(csv.reader([f.readline()]))
        t_col, v_col = header.index("timestamp"), header.index("metric_value")
        first = None
        for line in f:
            if not line.startswith("http_req_duration,"):
                continue
            row = next(csv.reader([line]))
            t = float(row[t_col])
            if first is None:
                first = t
            per_minute[int((t - first) // 60)].append(float(row[v_col]))
    out = {}
    for minute, values in per_minute.items():
        values.sort()
        out[minute] = {"requests": len(values),
                       "p95_ms": values[min(len(values) - 1, int(len(values) * 0.95))]}
    return out


def minutes(samples, k6):
    """One row per full minute of load: from the first sample with a payment on."""
    busy = [s for s in samples if s["paid"] > samples[0]["paid"]]
    if not busy:
        return []
    # The minute starts at the last sample before the first payment.
    start = samples[max(samples.index(busy[0]) - 1, 0)]
    rows = []
    for minute in range(10_000):
        t0, t1 = start["t"] + 60 * minute, start["t"] + 60 * (minute + 1)
        a = max((s for s in samples if s["t"] <= t0 + 0.5), key=lambda s: s["t"], default=None)
        b = max((s for s in samples if s["t"] <= t1 + 0.5), key=lambda s: s["t"], default=None)
        if a is None or b is None or b["t"] - a["t"] < 55:
            break
        bought = b["paid"] - a["paid"]
        if bought <= 0:
            break
        rows.append({
            "minute": minute + 1,
            "purchases_per_s": round(bought / (b["t"] - a["t"]), 1),
            "p95_ms": round(k6[minute]["p95_ms"], 2) if minute in k6 else None,
            "cpu_ms_per_purchase": round(1000 * (b["cpu_s"] - a["cpu_s"]) / bought, 3),
            "rss_mib": round(b["rss_kib"] / 1024, 1),
            "db_mib": round(b["db_bytes"] / 2**20, 1),
            "wal_mib": round(b["wal_bytes"] / 2**20, 1),
            "purchases": int(b["paid"]),
        })
    return rows


def verdicts(rows):
    if len(rows) < 3:
        return {"enough_minutes": {"ok": False, "figure": f"{len(rows)} full minutes"}}
    first, last = rows[0], rows[-1]
    cpu_growth = last["cpu_ms_per_purchase"] / first["cpu_ms_per_purchase"] - 1
    # RSS levels off: the growth over the second half is at most a tenth of the whole.
    half = rows[len(rows) // 2]
    rss_late = last["rss_mib"] - half["rss_mib"]
    wal_peak = max(r["wal_mib"] for r in rows)
    return {
        "cpu_per_purchase_last_vs_first": {
            "ok": abs(cpu_growth) <= 0.10,
            "figure": f"{first['cpu_ms_per_purchase']} -> {last['cpu_ms_per_purchase']} ms "
                      f"({100 * cpu_growth:+.1f}%)"},
        "rss_levels_off": {
            "ok": rss_late <= max(8.0, 0.1 * last["rss_mib"]),
            "figure": f"{first['rss_mib']} -> {half['rss_mib']} (half-way) -> "
                      f"{last['rss_mib']} MiB"},
        "wal_bounded": {
            "ok": wal_peak <= 64,
            "figure": f"at most {wal_peak} MiB over the run (64 MiB allowed)"},
    }


def report(args):
    samples = read_samples(args.samples)
    rows = minutes(samples, k6_minutes(args.k6_csv))
    checks = verdicts(rows)
    with open(args.out + ".json", "w") as f:
        json.dump({"minutes": rows, "targets": checks}, f, indent=1)
    cols = ["minute", "purchases_per_s", "p95_ms", "cpu_ms_per_purchase", "rss_mib", "db_mib",
            "wal_mib", "purchases"]
    heads = ["minute", "purchases/s", "p95 (ms)", "server CPU per purchase (ms)", "RSS (MiB)",
             "database (MiB)", "WAL (MiB)", "purchases so far"]
    lines = ["| " + " | ".join(heads) + " |", "|" + " --- |" * len(heads)]
    lines += ["| " + " | ".join("" if r[c] is None else str(r[c]) for c in cols) + " |"
              for r in rows]
    lines += ["", "| target | figure | met |", "| --- | --- | --- |"]
    lines += [f"| {name} | {v['figure']} | {'yes' if v['ok'] else '**no**'} |"
              for name, v in checks.items()]
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(v["ok"] for v in checks.values()) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--db", required=True)
    s.add_argument("--base", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--every", type=float, default=10.0)
    s.add_argument("--until", type=float, default=3 * 3600.0)
    r = sub.add_parser("report")
    r.add_argument("--samples", required=True)
    r.add_argument("--k6-csv", required=True)
    r.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "sample":
        sample(args)
        return 0
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
