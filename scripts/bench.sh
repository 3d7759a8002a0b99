#!/usr/bin/env bash
# Benchmarks (`make bench`, after `make dev`). Writes raw figures and
# bench/out/report.md: the end-to-end pipeline against an in-process
# baseline run in the same invocation, one batch through a plugin process
# against the wire encoding alone, and the repo's Go micro-benchmarks.
#
# Environment:
#   BENCH_RUNS=5          end-to-end runs (and baseline runs)
#   BENCH_SAMPLES=2000000 samples per end-to-end run
#   BENCH_QUEUE_SAMPLES=500000 samples per publisher-queue run (memory vs disk)
#   BENCH_COUNT=6         go test -count for the Go benchmarks
#   BENCH_PERF=1          one extra profiled pipeline run with perf (0 to skip)
#   BENCH_STORE_RUNS=3    store-vs-TSDB runs per engine, and peer (pollster, publisher) benchmark count
#   BENCH_FAILOVER_RUNS=5 cluster failover runs (real agents, SIGKILL; 0 to skip)
#   BENCH_API_BASE=4c0f1ca baseline commit of the API before/after benchmark
#   BENCH_PROMQL_REPS=11  timed rounds of each PromQL query against Prometheus 2.42
#   BENCH_NOTIFY_RUNS=3   whole-path notification runs per publisher (0 to skip)
#   BENCH_NOTIFICATIONS=100000 notifications preloaded per notification run
#
# Every process it starts it stops by PID (the pipeline program SIGTERMs the
# agent it started; the agent stops its plugins). Traffic stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
RUNS=${BENCH_RUNS:-5}
SAMPLES=${BENCH_SAMPLES:-2000000}
COUNT=${BENCH_COUNT:-6}
PERF=${BENCH_PERF:-1}
STORE_RUNS=${BENCH_STORE_RUNS:-3}
FAILOVER_RUNS=${BENCH_FAILOVER_RUNS:-5}
PROMQL_REPS=${BENCH_PROMQL_REPS:-11}
NOTIFY_RUNS=${BENCH_NOTIFY_RUNS:-3}
NOTIFICATIONS=${BENCH_NOTIFICATIONS:-100000}
OUT=bench/out
start=$(date +%s)

[[ -x bin/altimeter && -d bin/plugins ]] || { echo "bench: run make dev first" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT/bin"

$GO build -o "$OUT/bin/pipeline" ./bench/pipeline
$GO build -o "$OUT/bin/report" ./bench/report

echo "== end-to-end pipeline and in-process baseline: $RUNS runs x $SAMPLES samples (interleaved)"
for i in $(seq 1 "$RUNS"); do
	"$OUT/bin/pipeline" -mode agent -samples "$SAMPLES" >"$OUT/pipeline-agent-$i.json" 2>"$OUT/pipeline-agent-$i.err" ||
		{ cat "$OUT/pipeline-agent-$i.err" >&2; exit 1; }
	"$OUT/bin/pipeline" -mode baseline -samples "$SAMPLES" >"$OUT/pipeline-baseline-$i.json" 2>"$OUT/pipeline-baseline-$i.err" ||
		{ cat "$OUT/pipeline-baseline-$i.err" >&2; exit 1; }
	"$OUT/bin/pipeline" -mode baseline -msgid -samples "$SAMPLES" >"$OUT/pipeline-baseline+msgid-$i.json" 2>"$OUT/pipeline-baseline+msgid-$i.err" ||
		{ cat "$OUT/pipeline-baseline+msgid-$i.err" >&2; exit 1; }
	python3 - "$OUT" "$i" <<'EOF' 2>/dev/null || true
import json, sys
d, i = sys.argv[1], sys.argv[2]
for m in ("agent", "baseline", "baseline+msgid"):
    r = json.load(open(f"{d}/pipeline-{m}-{i}.json"))
    print(f"   run {i} {m:15s} {r['samples_per_second']:10.0f} samples/s  {r['cpu_s_per_million']:6.2f} CPU-s/M  ok={r['verify']['ok']}")
EOF
done

QSAMPLES=${BENCH_QUEUE_SAMPLES:-500000}
echo "== publisher queue: memory (baseline) vs disk (fsync per batch) vs disk (sync_interval 1s), $RUNS runs x $QSAMPLES samples (interleaved)"
for i in $(seq 1 "$RUNS"); do
	for q in memory disk disk-interval; do
		"$OUT/bin/pipeline" -mode agent -queue "$q" -samples "$QSAMPLES" >"$OUT/queue-$q-$i.json" 2>"$OUT/queue-$q-$i.err" ||
			{ cat "$OUT/queue-$q-$i.err" >&2; exit 1; }
	done
done
python3 - "$OUT" "$RUNS" <<'EOF' | tee "$OUT/queue.md"
import json, statistics, sys
d, runs = sys.argv[1], int(sys.argv[2])
med = {}
for q in ("memory", "disk", "disk-interval"):
    rs = [json.load(open(f"{d}/queue-{q}-{i}.json")) for i in range(1, runs + 1)]
    med[q] = (statistics.median(r["samples_per_second"] for r in rs), statistics.median(r["cpu_s_per_million"] for r in rs))
print("| queue | samples/s (median) | vs memory | CPU-s per million |")
print("|---|---|---|---|")
for q, (sps, cpu) in med.items():
    print(f"| {q} | {sps:,.0f} | {sps / med['memory'][0]:.0%} | {cpu:.2f} |")
EOF

echo "== publishers against their real peers (Prometheus, VictoriaMetrics, RabbitMQ, Gnocchi, UDP, a file); baseline: the same gRPC path, no publisher (count $STORE_RUNS)"
$GO test -run '^$' -bench 'IntegrationPublish' -benchtime 300x -count "$STORE_RUNS" -timeout 30m \
	./internal/pubbench/ ./plugins/publishers/file/ ./plugins/publishers/udp/ ./plugins/publishers/prometheus/ ./plugins/publishers/notifier/ ./plugins/publishers/gnocchi/ |
	tee "$OUT/publishers-bench.txt"
python3 scripts/bench_publishers.py "$OUT/publishers-bench.txt" | tee "$OUT/publishers.md"

echo "== round trip of one 1,000-sample batch (count $COUNT)"
$GO test -run '^$' -bench . -benchmem -count "$COUNT" ./bench/roundtrip/ | tee "$OUT/roundtrip.txt"
# A CPU profile of the in-process wire work, to name its costs.
$GO test -run '^$' -bench 'WireOnly/transformer' -benchtime 2s -count 1 \
	-cpuprofile "$OUT/wire.pprof" -o "$OUT/bin/roundtrip.test" ./bench/roundtrip/ >/dev/null
$GO tool pprof -top -cum -nodecount 40 "$OUT/bin/roundtrip.test" "$OUT/wire.pprof" >"$OUT/wire-pprof.txt" 2>/dev/null || true

echo "== existing micro-benchmarks: ./plugins/... (count $COUNT)"
$GO test -run '^$' -bench '^Benchmark([^I]|I[^n])' -benchmem -count "$COUNT" ./plugins/... | tee "$OUT/plugins-bench.txt"

# POST /v2/meters (1,000 samples a request), statistics and a listing
# through the real store, before (baseline commit) and after the request
# limits, interleaved.
BENCH_OUT="$OUT" BENCH_API_COUNT="$STORE_RUNS" scripts/bench_api.sh
cp "$OUT/api-after.txt" "$OUT/api-bench.txt"

echo "== pollsters against their real peers (libvirtd, snmpd, ipmi_sim, Prometheus; count $STORE_RUNS)"
$GO test -run '^$' -bench 'Integration' -count "$STORE_RUNS" -timeout 30m ./plugins/pollsters/... | tee "$OUT/peers-bench.txt"

echo "== alarms: one evaluation cycle of 10,000 threshold alarms over a real store; baseline: the evaluator alone (count $COUNT)"
$GO test -run '^$' -bench Cycle -benchtime 3x -count "$COUNT" ./host/alarm/ | tee "$OUT/alarm-bench.txt"

echo "== cluster: raft apply (1 member = baseline, 3 members), batched applies, rebalance of 10,000 resources (count $COUNT)"
$GO test -run '^$' -bench . -benchtime 300x -count "$COUNT" ./host/cluster/ | tee "$OUT/cluster-bench.txt"

if [[ $FAILOVER_RUNS != 0 ]]; then
	echo "== cluster failover: SIGKILL of the busiest of 3 polling members over 33 SNMP targets, $FAILOVER_RUNS runs"
	$GO test -run '^TestIntegrationCluster$' -count "$FAILOVER_RUNS" -v -timeout 30m ./e2e/ >"$OUT/failover.txt" 2>&1 ||
		{ tail -50 "$OUT/failover.txt" >&2; exit 1; }
	grep -E 'SIGKILL of|steady state' "$OUT/failover.txt" | sed 's/^ *//' || true
fi
python3 scripts/bench_cluster.py "$OUT" >"$OUT/cluster.md"

if [[ $NOTIFY_RUNS != 0 ]]; then
	echo "== notifications end to end: store publisher, and the file publisher as baseline, $NOTIFY_RUNS runs x $NOTIFICATIONS (interleaved; private RabbitMQ)"
	for i in $(seq 1 "$NOTIFY_RUNS"); do
		for p in store file; do
			"$OUT/bin/pipeline" -mode notify -publisher "$p" -notifications "$NOTIFICATIONS" >"$OUT/notify-$p-$i.json" 2>"$OUT/notify-$p-$i.err" ||
				{ cat "$OUT/notify-$p-$i.err" >&2; exit 1; }
		done
	done
	python3 scripts/bench_notify.py "$OUT" store file | tee "$OUT/notify.md"
else
	: >"$OUT/notify.md"
fi

echo "== notification archive: ingest against an unindexed, uncompressed SQLite table (same run); search over 1M archived (count $STORE_RUNS)"
$GO test -run '^$' -bench . -benchtime 20x -count "$STORE_RUNS" -timeout 60m ./host/archive/ | tee "$OUT/archive-bench.txt"
python3 scripts/bench_archive.py "$OUT/archive-bench.txt" >"$OUT/archive.md"

echo "== store vs Prometheus TSDB: $STORE_RUNS runs each (bench/store, its own module)"
(cd bench/store && $GO build -o "../../$OUT/bin/storebench" .)
"$OUT/bin/storebench" -engine all -runs "$STORE_RUNS" -out "$OUT/store"

echo "== PromQL: Altimeter's query API vs Prometheus 2.42 on the same 6M samples, $PROMQL_REPS rounds per query"
"$OUT/bin/storebench" -engine promql -reps "$PROMQL_REPS" -out "$OUT/promql"

# benchstat when the module proxy lets us have it; the report computes its
# own medians either way.
BENCHSTAT=""
if command -v benchstat >/dev/null; then
	BENCHSTAT=benchstat
elif [[ -x "$($GO env GOPATH)/bin/benchstat" ]]; then
	BENCHSTAT="$($GO env GOPATH)/bin/benchstat"
fi
if [[ -n $BENCHSTAT ]]; then
	"$BENCHSTAT" "$OUT/roundtrip.txt" "$OUT/plugins-bench.txt" >"$OUT/benchstat.txt" 2>&1 || true
elif timeout 120 $GO run golang.org/x/perf/cmd/benchstat@latest "$OUT/roundtrip.txt" "$OUT/plugins-bench.txt" >"$OUT/benchstat.txt" 2>/dev/null; then
	:
else
	rm -f "$OUT/benchstat.txt"
	echo "bench: benchstat unavailable; the report computes medians itself" >&2
fi

if [[ $PERF != 0 ]] && command -v perf >/dev/null; then
	echo "== profiled pipeline run (perf; not part of the figures)"
	if "$OUT/bin/pipeline" -mode agent -samples "$SAMPLES" -perf "$OUT/perf.data" >"$OUT/perf-run.json" 2>"$OUT/perf-run.err"; then
		perf report -i "$OUT/perf.data" --children --sort sym --stdio -g none --percent-limit 0.5 >"$OUT/perf-children.txt" 2>/dev/null || true
		perf report -i "$OUT/perf.data" --no-children --sort comm,dso --stdio -g none >"$OUT/perf-comm.txt" 2>/dev/null || true
		perf report -i "$OUT/perf.data" --no-children --sort comm,sym --stdio -g none --percent-limit 0.5 >"$OUT/perf-self.txt" 2>/dev/null || true
		perf report -i "$OUT/perf.data" --no-children --stdio -G -S pvm_irq_enable --percent-limit 1.5 >"$OUT/perf-kernel-callers.txt" 2>/dev/null || true
	else
		echo "bench: profiled run failed (see $OUT/perf-run.err); no profile in the report" >&2
	fi
fi

elapsed=$(($(date +%s) - start))
dirty=""
[[ -z $(git status --porcelain 2>/dev/null) ]] || dirty=" (working tree has uncommitted changes)"
"$OUT/bin/report" -dir "$OUT" \
	-commit "$(git rev-parse HEAD 2>/dev/null || echo unknown)$dirty" \
	-date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" \
	-nproc "$(nproc)" \
	-cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
	-kernel "$(uname -r)" \
	-go "$($GO version)" \
	-elapsed "$((elapsed / 60))m$((elapsed % 60))s"
{ echo; cat "$OUT/notify.md"; echo; cat "$OUT/publishers.md"; echo; cat "$OUT/cluster.md"; echo; cat "$OUT/store.md"; echo; cat "$OUT/promql.md"; echo; cat "$OUT/api-limits.md"; echo; cat "$OUT/archive.md"; echo; echo "## Pollsters against real peers, and the POST path"; echo; echo '```'; grep -hE '^(Benchmark|ok)' "$OUT/peers-bench.txt" "$OUT/api-bench.txt"; echo '```'; echo; echo "## Alarm evaluation cycle (10,000 threshold alarms; evaluate-only is the baseline)"; echo; python3 scripts/bench_alarm.py "$OUT/alarm-bench.txt"; } >>"$OUT/report.md"
echo "== wrote $OUT/report.md"
