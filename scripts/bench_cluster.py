#!/usr/bin/env python3
"""Summarises the cluster benchmarks of scripts/bench.sh into cluster.md:
medians, ratios against the one-member cluster run in the same invocation,
the rebalance figures and the failover runs."""
import re
import statistics
import sys

d = sys.argv[1]
rows = {}
for line in open(f"{d}/cluster-bench.txt"):
    m = re.match(r"^(Benchmark\S+?)-\d+\s+\d+\s+(.*)$", line)
    if not m:
        continue
    f = m.group(2).split()
    for v, unit in zip(f[::2], f[1::2]):
        rows.setdefault((m.group(1), unit), []).append(float(v))
med = {k: statistics.median(v) for k, v in rows.items()}


def g(name, unit):
    return med.get((name, unit), float("nan"))


print("## Cluster (raft)\n")
print("Medians over the runs; ratios against a one-member cluster (the same apply path with no follower), "
      "run in the same invocation. Three members share the machine's two cores.\n")
print("| figure | 1 member (baseline) | 3 members | ratio |")
print("|---|---|---|---|")
for unit, label in (("p50-us", "apply latency p50 (µs)"), ("p99-us", "apply latency p99 (µs)")):
    a, b = g("BenchmarkApply/members=1", unit), g("BenchmarkApply/members=3", unit)
    print(f"| {label} | {a:.0f} | {b:.0f} | {b / a:.2f} |")
a, b = g("BenchmarkApplyBatched/members=1", "applies/s"), g("BenchmarkApplyBatched/members=3", "applies/s")
print(f"| batched applies/s (64 in flight) | {a:.0f} | {b:.0f} | {b / a:.2f} |")
print()
print(f"Rebalance of 10,000 central resources over 3 members: {g('BenchmarkRebalance', 'ns/op') / 1e6:.1f} ms "
      f"per full map; moved on a join {g('BenchmarkRebalance', 'moved-on-join'):.3f} (ideal 0.250), "
      f"on a leave {g('BenchmarkRebalance', 'moved-on-leave'):.3f} (ideal 0.333).")
try:
    txt = open(f"{d}/failover.txt").read()
except FileNotFoundError:
    txt = ""
rec = [float(x) for x in re.findall(r"every target polled again after ([0-9.]+)s", txt)]
ep = [float(x) for x in re.findall(r"new epoch after ([0-9.]+)s", txt)]
if rec:
    print(f"\nFailover (SIGKILL of the busiest of 3 polling members, 33 SNMP targets, heartbeat 1 s, "
          f"interval 2 s, bound 4 s), {len(rec)} runs: new epoch after {statistics.median(ep):.2f} s, every "
          f"resource polled again after {statistics.median(rec):.2f} s (median; max {max(rec):.2f} s).")
