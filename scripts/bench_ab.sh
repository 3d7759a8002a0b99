#!/usr/bin/env bash
# A/B pipeline benchmark: two builds of the agent and the same three plugins
# (socket -> unit_conversion -> file), run interleaved with the in-process
# baseline in one invocation, medians and ratios. For a change's before/after
# table on a loaded machine, where only interleaved ratios mean anything.
#
#   scripts/bench_ab.sh BEFORE_REV [AFTER_REV]   (AFTER_REV defaults to the work tree)
#
# Environment: AB_RUNS=5, AB_SAMPLES=2000000, AB_OUT=bench/out/ab.
# Builds into $AB_OUT/{a,b}; every process is stopped by the pipeline program.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
RUNS=${AB_RUNS:-5}
SAMPLES=${AB_SAMPLES:-2000000}
OUT=${AB_OUT:-bench/out/ab}
before=${1:?usage: scripts/bench_ab.sh BEFORE_REV [AFTER_REV]}
after=${2:-}
PLUGINS=(plugins/listeners/socket plugins/transformers/unit_conversion plugins/publishers/file)

build() { # dir tree
	mkdir -p "$1/plugins"
	local dir
	dir=$(cd "$1" && pwd)
	(cd "$2" && $GO build -o "$dir/altimeter" ./cmd/altimeter)
	for p in "${PLUGINS[@]}"; do
		local kind=${p#plugins/}
		kind=${kind%%s/*}
		(cd "$2" && $GO build -o "$dir/plugins/altimeter-$kind-$(basename "$p")" "./$p")
	done
}

rm -rf "$OUT"
mkdir -p "$OUT"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
git archive "$before" | tar -x -C "$tree"
build "$OUT/a" "$tree"
if [[ -n $after ]]; then
	rm -rf "$tree" && mkdir -p "$tree"
	git archive "$after" | tar -x -C "$tree"
	build "$OUT/b" "$tree"
else
	build "$OUT/b" .
fi
$GO build -o "$OUT/pipeline" ./bench/pipeline

for i in $(seq 1 "$RUNS"); do
	uptime >>"$OUT/load.txt"
	for v in a b; do
		"$OUT/pipeline" -mode agent -samples "$SAMPLES" -bin "$OUT/$v/altimeter" -plugins "$OUT/$v/plugins" \
			>"$OUT/$v-$i.json" 2>"$OUT/$v-$i.err" || { cat "$OUT/$v-$i.err" >&2; exit 1; }
	done
	"$OUT/pipeline" -mode baseline -samples "$SAMPLES" >"$OUT/base-$i.json" 2>"$OUT/base-$i.err" ||
		{ cat "$OUT/base-$i.err" >&2; exit 1; }
	echo "run $i done"
done
uptime >>"$OUT/load.txt"
python3 scripts/bench_ab.py "$OUT" "$RUNS" "$before" "${after:-work tree}" | tee "$OUT/ab.md"
