#!/usr/bin/env bash
# API benchmarks before and after the request limits of issue 9, in one
# invocation: this tree's host/api/bench_test.go is compiled against a
# baseline commit (BENCH_API_BASE, default 4c0f1ca, main just before the
# limits) and against this tree; the two test binaries run interleaved,
# BENCH_API_COUNT rounds each, and $OUT/api-limits.md gets the medians and
# the after/before ratios. Called by scripts/bench.sh; runs alone as well.
#
#   BENCH_API_BASE=4c0f1ca  baseline commit (any git revision)
#   BENCH_API_COUNT=5       rounds (each binary once a round)
#   BENCH_API_TIME=20x      -benchtime of each benchmark
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
BASE=${BENCH_API_BASE:-4c0f1ca}
COUNT=${BENCH_API_COUNT:-5}
TIME=${BENCH_API_TIME:-20x}
OUT=$(realpath -m "${BENCH_OUT:-bench/out}")
BENCH='PostSamples|Statistics|ListSamples'
mkdir -p "$OUT/bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== API before ($BASE) and after (this tree): $BENCH, $COUNT interleaved rounds of $TIME"
git archive "$BASE" | tar -x -C "$tmp"
cp host/api/bench_test.go "$tmp/host/api/bench_test.go"
# The benchmarks' CPU clock (internal/peer.SelfCPU) is younger than the
# default baseline.
[ -e "$tmp/internal/peer/cpu.go" ] || cp internal/peer/cpu.go "$tmp/internal/peer/cpu.go"
(cd "$tmp" && $GO test -c -o "$OUT/bin/api-before.test" ./host/api/)
$GO test -c -o "$OUT/bin/api-after.test" ./host/api/
: >"$OUT/api-before.txt"
: >"$OUT/api-after.txt"
for i in $(seq 1 "$COUNT"); do
	for side in before after; do
		(cd "$tmp/host/api" && "$OUT/bin/api-$side.test" -test.run '^$' -test.bench "$BENCH" -test.benchtime "$TIME" \
			-test.benchmem -test.count 1) >>"$OUT/api-$side.txt"
	done
	echo "   round $i done"
done

python3 - "$OUT" "$BASE" "$(git rev-parse --short HEAD)" <<'PY'
import re, statistics, sys
out, base, head = sys.argv[1:]
def load(side):
    runs = {}
    for line in open(f"{out}/api-{side}.txt"):
        m = re.match(r"^(Benchmark\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$", line)
        if m:
            extra = dict((u, float(v)) for v, u in re.findall(r"([\d.]+) (\S+)", m.group(4)))
            runs.setdefault(m.group(1), []).append((float(m.group(3)), extra))
    return runs
before, after = load("before"), load("after")
med = lambda runs, key: statistics.median(r[1].get(key, 0) if key else r[0] for r in runs)
rows = ["## API: POST, statistics and listing before and after the request limits", "",
        f"Baseline {base}, this tree {head}; same benchmark code, interleaved runs; medians of {min(len(v) for v in after.values())} runs.",
        "CPU is the process's user+system time per op (getrusage): on a shared machine it varies far less than wall time.", "",
        "| benchmark | before ms/op | after ms/op | after/before | before CPU ms/op | after CPU ms/op | CPU after/before | before B/op | after B/op |",
        "|---|---|---|---|---|---|---|---|---|"]
for name in after:
    if name not in before:
        continue
    b, a = med(before[name], None) / 1e6, med(after[name], None) / 1e6
    bc, ac = med(before[name], "cpu-ns/op") / 1e6, med(after[name], "cpu-ns/op") / 1e6
    bb, ab = med(before[name], "B/op"), med(after[name], "B/op")
    rows.append(f"| {name} | {b:.3f} | {a:.3f} | {a/b:.3f} | {bc:.3f} | {ac:.3f} | {ac/bc if bc else float('nan'):.3f} | {bb:,.0f} | {ab:,.0f} |")
# Issue 14: POST over real HTTP (four clients on loopback) against the
# same POST in process, both sides, in samples/s.
http, inproc = "BenchmarkPostSamplesHTTP", "BenchmarkPostSamples"
if all(http in r and inproc in r for r in (before, after)):
    rows += ["", "POST /v2/meters/{name}, batches of 1,000 samples: in process and over HTTP with four clients on loopback (medians, samples/s; goal 100k/s over HTTP).", "",
             "| side | in process | over HTTP | HTTP/in process |", "|---|---|---|---|"]
    for side, runs in (("before", before), ("after", after)):
        i, h = med(runs[inproc], "samples/s"), med(runs[http], "samples/s")
        rows.append(f"| {side} | {i:,.0f} | {h:,.0f} | {h/i:.2f} |")
    rows.append(f"| after/before | {med(after[inproc], 'samples/s')/med(before[inproc], 'samples/s'):.2f} | {med(after[http], 'samples/s')/med(before[http], 'samples/s'):.2f} | |")
open(f"{out}/api-limits.md", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
