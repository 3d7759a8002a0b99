"""Medians and ratios of scripts/bench_ab.sh's runs, as a Markdown table."""
import json
import statistics as st
import sys

out, runs, before, after = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
load = [l.split("load average:")[1].strip() for l in open(f"{out}/load.txt")]


def runs_of(v):
    return [json.load(open(f"{out}/{v}-{i}.json")) for i in range(1, runs + 1)]


res = {v: runs_of(v) for v in ("a", "b", "base")}
for v, rs in res.items():
    for r in rs:
        if not r["verify"]["ok"]:
            sys.exit(f"{v}: a run lost or duplicated samples: {r['verify']}")


def med(v, f):
    return st.median(f(r) for r in res[v])


tp = lambda r: r["samples_per_second"]
cpu = lambda r: r["cpu_s_per_million"]
print(f"A = {before}, B = {after}; {runs} interleaved runs of {res['a'][0]['samples']} samples; medians.")
print(f"Load average (1, 5, 15 min) before each round and at the end: {'; '.join(load)}\n")
print("| figure | A | B | B/A | baseline | A/baseline | B/baseline |")
print("|---|---|---|---|---|---|---|")
ba, bb, bs = med("a", tp), med("b", tp), med("base", tp)
print(f"| samples/s | {ba:,.0f} | {bb:,.0f} | {bb/ba:.2f} | {bs:,.0f} | {ba/bs:.2f} | {bb/bs:.2f} |")
ca, cb, cs = med("a", cpu), med("b", cpu), med("base", cpu)
print(f"| CPU-s per million samples | {ca:.2f} | {cb:.2f} | {cb/ca:.2f} | {cs:.2f} | {ca/cs:.1f}x | {cb/cs:.1f}x |")
procs = sorted(res["a"][0]["cpu_by_process"])
n = res["a"][0]["samples"] / 1e6
for p in procs:
    pa = med("a", lambda r: r["cpu_by_process"].get(p, 0)) / n
    pb = med("b", lambda r: r["cpu_by_process"].get(p, 0)) / n
    print(f"| CPU-s/M {p} | {pa:.2f} | {pb:.2f} | {pb/pa if pa else 0:.2f} | | | |")
ra, rb = med("a", lambda r: r["peak_rss_mib"]), med("b", lambda r: r["peak_rss_mib"])
print(f"| peak RSS MiB (all processes) | {ra:.0f} | {rb:.0f} | {rb/ra:.2f} | | | |")
