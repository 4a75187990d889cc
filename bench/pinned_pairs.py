#!/usr/bin/env python3
"""Medians of the runs `bench/pinned_pairs.sh` printed (read from stdin or the files named).

For each case and side: the median and range of cue (or ack) p50 and p99, server CPU per delivered
message, RSS per participant and the load tool's CPU; and for each round, the ratio of circuitd's
p99 and CPU per delivery to the other side's in the same round, with the median ratio.
"""
import fileinput
import json
import re
import statistics
from collections import defaultdict


def parse(line):
    parts = line.strip().split(" ", 3)
    if len(parts) < 4 or not parts[3]:
        return None
    round_, case, side, rest = parts
    if rest.startswith("{"):
        row = json.loads(rest)
        return round_, case, side, {
            "p50": row.get("p50_ms"), "p99": row.get("p99_ms"),
            "cpu": row.get("server_cpu_us_per_message"),
            "rss": row.get("rss_kb_per_participant"), "load": row.get("load_cpu_s"),
            "server_cpu_s": row.get("server_cpu_s"), "measured_s": row.get("measured_s"),
            "delivered": row.get("delivered", row.get("received")),
        }
    fields = dict(re.findall(r"(\w+)=(\S+)", rest))
    if not fields:
        return None
    num = lambda k: float(fields[k]) if k in fields else None
    return round_, case, side, {
        "p50": num("p50_ms"), "p99": num("p99_ms"), "cpu": num("server_us_per_delivery"),
        "rss": num("rss_kb_per_participant"), "load": num("load_cpu_s"),
        "server_cpu_s": num("server_cpu_s"), "measured_s": None, "delivered": num("received"),
    }


def fmt(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    med = statistics.median(values)
    return f"{med:.1f} ({min(values):.1f}-{max(values):.1f})"


def main():
    runs = defaultdict(dict)  # (case, side) -> round -> metrics
    for line in fileinput.input():
        parsed = parse(line)
        if parsed:
            round_, case, side, metrics = parsed
            runs[(case, side)][round_] = metrics
    print("| case | side | runs | p50 ms | p99 ms | server us/msg | RSS KB/participant | load CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    for (case, side), by_round in sorted(runs.items()):
        rows = list(by_round.values())
        print(f"| {case} | {side} | {len(rows)} | " + " | ".join(
            fmt([r[k] for r in rows]) for k in ("p50", "p99", "cpu", "rss", "load")) + " |")
    print()
    print("| case | circuitd / other | p99 ratios by round (median) | CPU ratios by round (median) |")
    print("|---|---|---|---|")
    cases = sorted({case for case, _ in runs})
    for case in cases:
        sides = {side for c, side in runs if c == case}
        for mine, other in (("after", "colyseus"), ("after", "before"), ("A", "A2")):
            if mine not in sides or other not in sides:
                continue
            p99, cpu = [], []
            for round_, m in sorted(runs[(case, mine)].items()):
                o = runs[(case, other)].get(round_)
                if not o:
                    continue
                if m["p99"] and o["p99"]:
                    p99.append(m["p99"] / o["p99"])
                if m["cpu"] and o["cpu"]:
                    cpu.append(m["cpu"] / o["cpu"])
            show = lambda xs: (", ".join(f"{x:.2f}" for x in xs) +
                               (f" (**{statistics.median(xs):.2f}**)" if xs else ""))
            print(f"| {case} | {mine} / {other} | {show(p99)} | {show(cpu)} |")


if __name__ == "__main__":
    main()
