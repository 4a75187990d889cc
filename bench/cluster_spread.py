#!/usr/bin/env python3
"""Medians of bench/cluster_spread.sh's lines (read from stdin), per case."""
import json
import statistics
import sys

rows = {}
for line in sys.stdin:
    parts = line.split(" ", 2)
    if len(parts) < 3 or "{" not in parts[2]:
        continue
    rest = parts[2]
    row = json.loads(rest[rest.index("{"):rest.rindex("}") + 1])
    tail = rest[rest.rindex("}") + 1:].split(":")
    cpu = [float(x) for x in tail[1].split()] if len(tail) > 1 else []
    row["nodes_cpu_s"] = sum(cpu[:3]) if cpu else row["server_cpu_s"]
    row["nats_cpu_s"] = sum(cpu[3:]) if cpu else 0.0
    rows.setdefault(parts[1], []).append(row)

print("| case | runs | delivered | p50 ms | p99 ms | circuitd CPU us/delivery (all nodes) "
      "| nats-server CPU us/delivery | load tool CPU s |")
print("|---|---|---|---|---|---|---|---|")
for case, runs in rows.items():
    def med(key):
        return statistics.median(r[key] for r in runs)
    delivered = med("delivered")
    print(f"| {case} | {len(runs)} | {delivered:.0f}/{med('expected'):.0f} | {med('p50_ms'):.1f} "
          f"| {med('p99_ms'):.1f} | {statistics.median(1e6 * r['nodes_cpu_s'] / r['delivered'] for r in runs):.1f} "
          f"| {statistics.median(1e6 * r['nats_cpu_s'] / r['delivered'] for r in runs):.1f} "
          f"| {med('load_cpu_s'):.2f} |")
