"""Summarise the whole-path notification runs (bench/pipeline -mode notify,
one JSON object per file) as markdown: medians of notifications/s and of
CPU-s per 100k notifications per process, the broker's apart, for each
variant (store publisher; file publisher, the same path without the store,
as the same-run baseline), and the ratios between them.

usage: bench_notify.py DIR VARIANT... (files DIR/notify-VARIANT-<i>.json)"""
import glob
import json
import statistics
import sys

d, variants = sys.argv[1], sys.argv[2:]
runs = {v: [json.load(open(f)) for f in sorted(glob.glob(f"{d}/notify-{v}-*.json"))] for v in variants}
med = lambda rs, f: statistics.median(f(r) for r in rs)
procs = sorted({p for rs in runs.values() for r in rs for p in r["cpu_s_per_100k_by_process"] if p != "broker"})
print("## Notifications end to end (RabbitMQ -> oslo listener -> agent -> publisher, acked)\n")
n = next((rs[0]["notifications"] for rs in runs.values() if rs), 0)
print(f"{n:,} compute.instance.exists notifications preloaded on a private RabbitMQ, default definitions,"
      " timed from the first consumed to the last acked; medians of the runs (interleaved). CPU-s per 100k"
      " notifications per process; ours is agent + plugin; the broker's is apart. Goal (issue 14):"
      " 20,000 notifications/s at no more than 10 CPU-s per 100k in our processes.\n")
print("| publisher | runs | notifications/s | ours CPU-s/100k | " + " | ".join(procs) + " | broker CPU-s/100k | events stored | memory samples |")
print("|---|---|---|---|" + "---|" * len(procs) + "---|---|---|")
for v, rs in runs.items():
    if not rs:
        continue
    cells = [f"{med(rs, lambda r: r['cpu_s_per_100k_by_process'].get(p, 0)):.1f}" for p in procs]
    ev = "/".join(sorted({str(r.get("events_stored", "-")) for r in rs})) if v == "store" else "-"
    mem = "/".join(sorted({str(int(r.get("memory_samples_stored", 0))) for r in rs})) if v == "store" else "-"
    print(f"| {v} | {len(rs)} | {med(rs, lambda r: r['notifications_per_second']):,.0f} | "
          f"{med(rs, lambda r: r['cpu_s_per_100k']):.1f} | " + " | ".join(cells) +
          f" | {med(rs, lambda r: r['broker_cpu_s_per_100k']):.1f} | {ev} | {mem} |")
if runs.get("store") and runs.get("file"):
    s, f = runs["store"], runs["file"]
    rate = med(s, lambda r: r["notifications_per_second"]) / med(f, lambda r: r["notifications_per_second"])
    cpu = med(s, lambda r: r["cpu_s_per_100k"]) / med(f, lambda r: r["cpu_s_per_100k"])
    print(f"\nThe store publisher runs at {rate:.2f}x the file publisher's rate, at {cpu:.2f}x its CPU per notification.")
