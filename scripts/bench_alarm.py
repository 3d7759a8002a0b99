#!/usr/bin/env python3
"""Medians of the alarm cycle benchmark (bench/out/alarm-bench.txt) and the
cycle's ratio to the evaluate-only baseline measured in the same run."""
import collections
import re
import statistics
import sys

runs = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    if not line.startswith("BenchmarkCycle/"):
        continue
    name = line.split()[0].split("/")[1].rsplit("-", 1)[0]
    for value, unit in re.findall(r"([\d.]+) (\S+/\S+)", line):
        runs[name][unit].append(float(value))
print("| case | wall ms/cycle | CPU-s/cycle | µs/alarm (wall) | runs |")
print("|---|---|---|---|---|")
med = {}
for name, units in runs.items():
    med[name] = {u: statistics.median(v) for u, v in units.items()}
    m = med[name]
    print(f"| {name} | {m['wall-ms/cycle']:.0f} | {m['cpu-s/cycle']:.3f} | {m['µs/alarm']:.1f} | {len(units['cpu-s/cycle'])} |")
if "cycle" in med and "evaluate-only" in med:
    c, b = med["cycle"], med["evaluate-only"]
    print()
    print(f"cycle / evaluate-only (baseline): wall {c['wall-ms/cycle'] / b['wall-ms/cycle']:.2f}x, "
          f"CPU {c['cpu-s/cycle'] / b['cpu-s/cycle']:.2f}x")
