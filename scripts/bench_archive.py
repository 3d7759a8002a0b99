"""Summarise the archive benchmarks (go test -bench output) as markdown:
medians per figure and the ingest ratio against the same-run baseline."""
import re
import statistics
import sys

vals = {}
for line in open(sys.argv[1]):
    m = re.match(r"^(Benchmark\S+?)(-\d+)?\s+\d+\s+(.*)$", line)
    if not m:
        continue
    for v, unit in re.findall(r"([\d.]+) (\S+)", m.group(3)):
        vals.setdefault((m.group(1), unit), []).append(float(v))
med = {k: statistics.median(v) for k, v in vals.items()}
units = ("notifications/s", "ms/search", "raw-B/notification", "zstd-B/notification", "file-B/notification")
print("## Notification archive (host/archive)\n")
print("| figure | median |\n|---|---|")
for (name, unit), v in sorted(med.items()):
    if unit in units:
        print(f"| {name.removeprefix('Benchmark')} {unit} | {v:.2f} |")
a = med.get(("BenchmarkArchivePut/archive", "notifications/s"))
b = med.get(("BenchmarkArchivePut/baseline", "notifications/s"))
if a and b:
    print(f"\nArchive ingest runs at {a / b:.2f}x the baseline's rate (the baseline has no secondary index and"
          " no compression). Goals: search by request_id under 10 ms, by event_type with a time range under 100 ms.")
