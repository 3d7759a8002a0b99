#!/usr/bin/env python3
"""Summarises the publishers' benchmarks against their real peers
(BenchmarkIntegrationPublish in internal/pubbench and plugins/publishers/*):
medians over -count runs, and ratios to the baseline of the same
invocation, the same batches over the same gRPC path to a publisher that
keeps nothing (internal/pubbench, peer=none).

Usage: bench_publishers.py publishers-bench.txt
"""
import re
import statistics
import sys

LABELS = {
    "pubbench/peer=none": "baseline: no publisher (same gRPC path)",
    "file": "file (local JSONL file)",
    "udp": "udp (UDP socket, read in process)",
    "prometheus/peer=prometheus": "prometheus: remote write to Prometheus 2.42",
    "prometheus/peer=victoriametrics": "prometheus: remote write to VictoriaMetrics 1.79",
    "notifier": "notifier: RabbitMQ, publisher confirms",
    "gnocchi": "gnocchi: Gnocchi 4.4 batch measures (100 instances)",
}

runs = {}
pkg = ""
for line in open(sys.argv[1]):
    if line.startswith("pkg: "):
        pkg = line.split()[1].rsplit("/", 1)[1]
        continue
    m = re.match(r"BenchmarkIntegrationPublish(/\S+?)?-\d+\s+\d+\s+\S+ ns/op\s+(.*)", line)
    if not m:
        continue
    key = pkg + (m.group(1) or "")
    vals = dict((u, float(v)) for v, u in re.findall(r"([\d.e+-]+) (\S+)", m.group(2)))
    runs.setdefault(key, []).append(vals)

def med(key, unit):
    xs = [r[unit] for r in runs.get(key, []) if unit in r]
    return statistics.median(xs) if xs else None

base = "pubbench/peer=none"
bs, bc = med(base, "samples/s"), med(base, "cpu-s/Msample")
print("## Publishers against their real peers (batches of 1,000 over gRPC; baseline: same path, no publisher)")
print()
print("| publisher → peer | samples/s (median) | vs baseline | CPU-s per million (this process) | vs baseline | peer CPU-s per million | runs |")
print("|---|---|---|---|---|---|---|")
for key in sorted(runs, key=lambda k: (k != base, k)):
    sps, cpu, peer = med(key, "samples/s"), med(key, "cpu-s/Msample"), med(key, "peer-cpu-s/Msample")
    rs = f"{sps / bs:.2f}x" if bs else "-"
    rc = f"{cpu / bc:.2f}x" if bc else "-"
    p = f"{peer:.2f}" if peer is not None else "-"
    print(f"| {LABELS.get(key, key)} | {sps:,.0f} | {rs} | {cpu:.2f} | {rc} | {p} | {len(runs[key])} |")
