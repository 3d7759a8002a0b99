// Command report turns the raw figures scripts/bench.sh leaves in bench/out
// into bench/out/report.md: medians (and min/max) of the end-to-end runs,
// the in-process baseline and the ratio between them, and the medians of the
// Go benchmarks.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/altimeter/altimeter/bench/internal/gen"
)

type stat struct{ med, min, max float64 }

func summarize(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{m, s[0], s[len(s)-1]}
}

func (s stat) fmt(prec int) string {
	return fmt.Sprintf("%s (%s – %s)", num(s.med, prec), num(s.min, prec), num(s.max, prec))
}

func num(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	// thousands separators for the integer part
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}

func loadRuns(dir, mode string) ([]gen.Run, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "pipeline-"+mode+"-*.json"))
	var out []gen.Run
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r gen.Run
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func col(rs []gen.Run, f func(gen.Run) float64) stat {
	var xs []float64
	for _, r := range rs {
		xs = append(xs, f(r))
	}
	return summarize(xs)
}

// ---- go test -bench output ----

type benchKey struct{ pkg, name, unit string }

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)

func parseBench(path string) (order []benchKey, vals map[benchKey][]float64, cpu string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, "", err
	}
	defer func() { _ = f.Close() }()
	vals = map[benchKey][]float64{}
	pkg := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p
			continue
		}
		if c, ok := strings.CutPrefix(line, "cpu: "); ok {
			cpu = strings.TrimSpace(c)
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		fs := strings.Fields(m[4])
		for i := 0; i+1 < len(fs); i += 2 {
			v, err := strconv.ParseFloat(fs[i], 64)
			if err != nil {
				continue
			}
			k := benchKey{pkg, m[1], fs[i+1]}
			if _, ok := vals[k]; !ok {
				order = append(order, k)
			}
			vals[k] = append(vals[k], v)
		}
	}
	return order, vals, cpu, sc.Err()
}

func benchTable(w io.Writer, order []benchKey, vals map[benchKey][]float64, units map[string]bool) {
	fmt.Fprintln(w, "| package | benchmark | metric | median | min – max | n |")
	fmt.Fprintln(w, "|---|---|---|---:|---|---:|")
	for _, k := range order {
		if units != nil && !units[k.unit] {
			continue
		}
		s := summarize(vals[k])
		prec := 0
		if s.med < 100 {
			prec = 1
		}
		if s.med < 10 {
			prec = 2
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s – %s | %d |\n", strings.TrimPrefix(k.pkg, "github.com/altimeter/altimeter/"), k.name, k.unit,
			num(s.med, prec), num(s.min, prec), num(s.max, prec), len(vals[k]))
	}
}

func median(vals map[benchKey][]float64, pkgSuffix, name, unit string) float64 {
	for k, v := range vals {
		if strings.HasSuffix(k.pkg, pkgSuffix) && k.name == name && k.unit == unit {
			return summarize(v).med
		}
	}
	return 0
}

// ---- perf ----

// perfGroups are inclusive ("children") shares worth reading together.
var perfGroups = []struct{ label, sym string }{
	{"kernel: all system calls", "entry_SYSCALL_64_after_hwframe"},
	{"kernel: scheduler (context switches)", "__schedule"},
	{"kernel: nanosleep (Go runtime usleep: idle Ms spinning)", "__x64_sys_nanosleep"},
	{"kernel: futex (Go runtime park/wake of Ms)", "__x64_sys_futex"},
	{"kernel: madvise (Go scavenger returning memory; TLB-shootdown IPIs)", "__x64_sys_madvise"},
	{"kernel: page faults", "asm_exc_page_fault"},
	{"kernel: read", "ksys_read"},
	{"kernel: write", "ksys_write"},
	{"Go: runtime.mallocgc (allocation)", "runtime.mallocgc"},
	{"Go: GC mark workers", "runtime.gcBgMarkWorker"},
	{"Go: scheduler findRunnable", "runtime.findRunnable"},
	{"protobuf Unmarshal", "google.golang.org/protobuf/proto.UnmarshalOptions.unmarshal"},
	{"protobuf Marshal", "google.golang.org/protobuf/proto.MarshalOptions.marshal"},
	{"sdk/wire SamplesFromProto", "github.com/altimeter/altimeter/sdk/wire.SamplesFromProto"},
	{"sdk/wire SamplesToProto", "github.com/altimeter/altimeter/sdk/wire.SamplesToProto"},
	{"listener: line protocol decode (influx.AppendDecode)", "github.com/altimeter/altimeter/internal/influx.AppendDecode"},
	{"sample.NewMessageID (crypto/rand UUID per sample)", "github.com/altimeter/altimeter/sdk/sample.NewMessageID"},
	{"transformer: scale expression (internal/scale)", "github.com/altimeter/altimeter/internal/scale.(*Scale).run"},
	{"publisher: line protocol encode (Encoder.Append)", "github.com/altimeter/altimeter/internal/influx.(*Encoder).Append"},
	{"gRPC HTTP/2 transport loopy writer", "google.golang.org/grpc/internal/transport.(*loopyWriter).run"},
	{"gRPC HTTP/2 reader (client)", "google.golang.org/grpc/internal/transport.(*http2Client).reader"},
	{"gRPC HTTP/2 server HandleStreams", "google.golang.org/grpc/internal/transport.(*http2Server).HandleStreams"},
}

var perfRow = regexp.MustCompile(`^\s*([\d.]+)%\s+([\d.]+)%\s+\[[.k]\]\s+(.+?)\s*$`)

func perfChildren(path string) (map[string][2]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string][2]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		m := perfRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		c, _ := strconv.ParseFloat(m[1], 64)
		s, _ := strconv.ParseFloat(m[2], 64)
		// One row per binary: the same symbol in several processes adds up.
		v := out[m[3]]
		out[m[3]] = [2]float64{v[0] + c, v[1] + s}
	}
	return out, nil
}

func readTrim(path string, maxLines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			continue
		}
		keep = append(keep, strings.TrimRight(l, " "))
		if len(keep) == maxLines {
			break
		}
	}
	return strings.Join(keep, "\n")
}

func main() {
	var (
		dir     = flag.String("dir", "bench/out", "raw figures")
		commit  = flag.String("commit", "", "git commit")
		date    = flag.String("date", "", "date")
		nproc   = flag.String("nproc", "", "nproc")
		cpu     = flag.String("cpu", "", "CPU model")
		kernel  = flag.String("kernel", "", "uname -r")
		goVer   = flag.String("go", "", "go version")
		elapsed = flag.String("elapsed", "", "how long make bench took so far")
	)
	flag.Parse()
	if err := write(*dir, *commit, *date, *nproc, *cpu, *kernel, *goVer, *elapsed); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func write(dir, commit, date, nproc, cpuModel, kernel, goVer, elapsed string) error {
	agent, err := loadRuns(dir, "agent")
	if err != nil {
		return err
	}
	base, err := loadRuns(dir, "baseline")
	if err != nil {
		return err
	}
	baseID, err := loadRuns(dir, "baseline+msgid")
	if err != nil {
		return err
	}
	if len(agent) == 0 || len(base) == 0 {
		return fmt.Errorf("no pipeline runs in %s", dir)
	}
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }

	p("# Altimeter benchmarks\n\n")
	p("- date: %s\n- commit: %s\n- machine: %s CPUs (`nproc`), %s; kernel %s\n- %s\n", date, commit, nproc, cpuModel, kernel, goVer)
	if elapsed != "" {
		p("- `make bench` wall time (build excluded): %s\n", elapsed)
	}
	p("\nAll figures are medians over the runs of this one invocation, with (min – max). Ratios compare medians of this invocation only.\n\n")

	// ---- 1 + 2 ----
	a0 := agent[0]
	p("## 1. End-to-end pipeline vs 2. in-process baseline\n\n")
	p("Pipeline: load generator (`bench/pipeline`, lines pre-generated in memory) → %d TCP connection(s) on 127.0.0.1 → `listener \"socket\"` (influx, batch_size %d) → host → `transform \"unit_conversion\"` (meters [\"*\"], scale \"volume / 1024\", unit \"KB\") → host → `publish \"file\"` (format influx, max_bytes 0) in a temp dir. %s samples per run; the clock runs from the first byte sent to the last line written (output file mtime once it holds every line); every run checks the output has each sample exactly once, renamed nothing, in KB, with volume/1024, and that `altimeter_publisher_out_samples_total` equals the count.\n\n",
		a0.Conns, a0.BatchSize, num(float64(a0.Samples), 0))
	p("Baseline: the same lines, decoded with the same codec (`internal/influx`), scaled by the same expression (`internal/scale`, compiled once), encoded with `influx.Encoder` and written to a file, in batches of %d, in one goroutine of one process. `baseline+msgid` also gives each sample a crypto-random UUID `message_id`, as the socket listener does (work the pipeline does that is not a process-boundary cost).\n\n", base[0].BatchSize)

	allOK := true
	for _, rs := range [][]gen.Run{agent, base, baseID} {
		for _, r := range rs {
			if !r.Verify.OK || r.Verify.Lines != r.Samples {
				allOK = false
			}
		}
	}
	for _, r := range agent {
		if r.PublisherOutSamples != float64(r.Samples) {
			allOK = false
		}
	}
	check := "all runs verified: every sample written exactly once, content checked, publisher counter = samples"
	if !allOK {
		check = "**VERIFICATION FAILED in at least one run — see the JSON files**"
	}
	p("Runs: %d pipeline, %d baseline, %d baseline+msgid; %s.\n\n", len(agent), len(base), len(baseID), check)

	tput := func(r gen.Run) float64 { return r.SamplesPerSecond }
	cpuM := func(r gen.Run) float64 { return r.CPUPerMillion }
	secs := func(r gen.Run) float64 { return r.Seconds }
	at, ac := col(agent, tput), col(agent, cpuM)
	bt, bc := col(base, tput), col(base, cpuM)
	p("| figure | pipeline (4 processes) | in-process baseline | ratio pipeline / baseline |\n|---|---:|---:|---:|\n")
	p("| samples/s | %s | %s | **%.3f×** (baseline is %.1f× faster) |\n", at.fmt(0), bt.fmt(0), at.med/bt.med, bt.med/at.med)
	p("| CPU-s per million samples | %s | %s | **%.1f×** |\n", ac.fmt(2), bc.fmt(2), ac.med/bc.med)
	p("| seconds per run | %s | %s | %.1f× |\n", col(agent, secs).fmt(2), col(base, secs).fmt(2), col(agent, secs).med/col(base, secs).med)
	p("| peak RSS, host + plugins (sum of VmHWM), MiB | %s | — | |\n", col(agent, func(r gen.Run) float64 { return r.PeakRSSMiB }).fmt(1))
	if a0.ContextSwitches > 0 {
		p("| context switches of host + plugins (all threads) per 1,000-sample batch | %s | — | |\n", col(agent, func(r gen.Run) float64 { return float64(r.ContextSwitches) / (float64(r.Samples) / 1000) }).fmt(0))
	}
	p("| load generator's own CPU-s per run (send + watch output) | %s | — | |\n", col(agent, func(r gen.Run) float64 { return r.LoadgenCPUSeconds }).fmt(2))
	p("| load generator: seconds until all bytes were sent | %s | — | |\n", col(agent, func(r gen.Run) float64 { return r.SendSeconds }).fmt(2))
	if len(baseID) > 0 {
		it, ic := col(baseID, tput), col(baseID, cpuM)
		p("\n| baseline+msgid | samples/s %s | CPU-s/M %s | pipeline / it: throughput %.3f×, CPU %.1f× |\n|---|---|---|---|\n", it.fmt(0), ic.fmt(2), at.med/it.med, ac.med/ic.med)
	}
	cores := at.med * ac.med / 1e6
	p("\nThe pipeline keeps %.2f cores busy at its median (samples/s × CPU-s/sample).\n\n", cores)

	// per process
	ids := []string{}
	for id := range a0.CPUByProcess {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	p("Per process (median over runs):\n\n| process | CPU-s per million samples | share of CPU | peak RSS MiB |\n|---|---:|---:|---:|\n")
	for _, id := range ids {
		c := col(agent, func(r gen.Run) float64 { return r.CPUByProcess[id] / (float64(r.Samples) / 1e6) })
		share := col(agent, func(r gen.Run) float64 { return r.CPUByProcess[id] / r.CPUSeconds })
		rss := col(agent, func(r gen.Run) float64 { return r.PeakRSSByProcess[id] })
		p("| %s | %s | %.0f%% | %s |\n", id, c.fmt(2), share.med*100, num(rss.med, 1))
	}
	p("\nFor scale (the issue's figures, quoted as text, not measured here): a well-known in-process agent moves ~170k samples/s at 8.8 CPU-s per million on this 2-core machine; goal: twice that throughput at half that CPU.\n\n")

	// ---- 3 ----
	p("## 3. One 1,000-sample batch through a plugin process vs the wire encoding alone\n\n")
	p("`bench/roundtrip`: `BenchmarkRoundTrip` launches the real `bin/plugins` binaries through `host/pluginmgr` (config via `config.Parse` + `Resolve` against `Describe`) and times `transformer.Client.Transform` / `publisher.Client.Publish` of one batch; `BenchmarkWireOnly` is the same batch through `sdk/wire` conversion and protobuf Marshal/Unmarshal both ways in one goroutine (no OS, no gRPC, no plugin work); `BenchmarkWireStep` splits one direction into its steps. `go test -count 6`.\n\n")
	rtOrder, rtVals, goCPU, err := parseBench(filepath.Join(dir, "roundtrip.txt"))
	if err != nil {
		p("(roundtrip benchmarks missing: %v)\n\n", err)
	} else {
		for _, kind := range []string{"transformer=unit_conversion", "publisher=file"} {
			rt := median(rtVals, "bench/roundtrip", "BenchmarkRoundTrip/"+kind, "µs/batch")
			wo := median(rtVals, "bench/roundtrip", "BenchmarkWireOnly/"+kind, "µs/batch")
			if rt > 0 && wo > 0 {
				p("- %s: round trip through the process **%s µs/batch** (%s ns/sample) vs wire-only %s µs/batch: **%.2f×**; the OS + gRPC + plugin work add %s µs per batch.\n",
					kind, num(rt, 0), num(rt*1e3/1000, 0), num(wo, 0), rt/wo, num(rt-wo, 0))
			}
		}
		p("\n")
		benchTable(&w, rtOrder, rtVals, map[string]bool{"µs/batch": true, "ns/sample": true, "B/op": true, "allocs/op": true, "MB/s": true})
		p("\n(`B/op`, `allocs/op` are this process's only: for RoundTrip the host side.) Go's CPU line: %s.\n\n", goCPU)
	}

	// ---- 4 ----
	p("## 4. Existing micro-benchmarks (`go test -bench . -benchmem -count 6 ./plugins/...`)\n\n")
	plOrder, plVals, _, err := parseBench(filepath.Join(dir, "plugins-bench.txt"))
	if err != nil {
		p("(missing: %v)\n\n", err)
	} else {
		benchTable(&w, plOrder, plVals, nil)
		p("\n")
	}

	// ---- 5 ----
	transformerSection(&w, rtVals, plVals)

	// ---- profile ----
	p("## Where the CPU goes (one extra profiled pipeline run, not part of the figures above)\n\n")
	if pc, err := perfChildren(filepath.Join(dir, "perf-children.txt")); err == nil && len(pc) > 0 {
		p("`perf record -F 499 -g -p <agent and plugin pids>` over one run; inclusive share of all sampled CPU of the 4 processes (rows overlap: allocation inside Unmarshal counts in both).\n\n| what | inclusive %% | self %% |\n|---|---:|---:|\n")
		for _, g := range perfGroups {
			if v, ok := pc[g.sym]; ok {
				p("| %s (`%s`) | %.1f | %.1f |\n", g.label, g.sym, v[0], v[1])
			}
		}
		p("\nCPU by process and user/kernel (self):\n\n```\n%s\n```\n\n", readTrim(filepath.Join(dir, "perf-comm.txt"), 16))
		p("Top self symbols:\n\n```\n%s\n```\n\n", readTrim(filepath.Join(dir, "perf-self.txt"), 25))
	} else {
		p("(no perf profile: perf missing or BENCH_PERF=0)\n\n")
	}
	if s := readTrim(filepath.Join(dir, "wire-pprof.txt"), 36); s != "" {
		if i := strings.Index(s, "      flat"); i >= 0 {
			s = s[i:]
		}
		p("Go CPU profile of `BenchmarkWireOnly/transformer` (pprof -top, cumulative order):\n\n```\n%s\n```\n\n", s)
	}
	if st, err := os.Stat(filepath.Join(dir, "benchstat.txt")); err == nil && st.Size() > 0 {
		p("benchstat's view of the same Go benchmark runs (with confidence intervals) is in `bench/out/benchstat.txt`.\n\n")
	}
	p("## Raw figures\n\n`bench/out/pipeline-*.json` (one per run), `roundtrip.txt`, `plugins-bench.txt`, `perf-*.txt`, `wire-pprof.txt`, `benchstat.txt`.\n")
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(w.String()), 0o644)
}

// transformerSection sets each transformer's in-process work (its plugin
// package's BenchmarkTransform) beside the same workload through its
// plugin process (bench/roundtrip's BenchmarkTransformerProcess), both run
// by this invocation.
func transformerSection(w io.Writer, rt, pl map[benchKey][]float64) {
	fmt.Fprint(w, "## 5. Transformers: through their plugin process vs their own work in-process\n\n")
	fmt.Fprint(w, "Workload (`internal/xform/xformtest`): 1,000-sample batches, one sample of each of 100,000 series per round (libvirt-like `cpu` with its metadata; `memory` and `memory.usage` of 50,000 resources for arithmetic), after one round that fills the transformer's state. In-process: the plugin package's `BenchmarkTransform` calls `Transform` directly. Process: `bench/roundtrip`'s `BenchmarkTransformerProcess` sends the same batches in wire form to the real `bin/plugins` binary through the agent's own call (`rawbatch.Transform`: the host copies and checks the answer, it does not decode it), one call at a time as a sink does; its CPU is both processes' (the host's within the calls only). rate_of_change and delta take the batches as bytes (`transformer.RawTransformer`), the others decode and encode them. Medians; on a shared machine read the ratios and the CPU figures.\n\n")
	fmt.Fprint(w, "| transformer | in-process samples/s | process samples/s | ratio in-process / process | in-process CPU ns/sample | process CPU ns/sample (plugin only) |\n|---|---:|---:|---:|---:|---:|\n")
	for _, name := range []string{"rate_of_change", "delta", "accumulator", "aggregator", "arithmetic"} {
		in := median(pl, "plugins/transformers/"+name, "BenchmarkTransform", "samples/s")
		out := median(rt, "bench/roundtrip", "BenchmarkTransformerProcess/"+name, "samples/s")
		inCPU := median(pl, "plugins/transformers/"+name, "BenchmarkTransform", "cpu-ns/sample")
		outCPU := median(rt, "bench/roundtrip", "BenchmarkTransformerProcess/"+name, "cpu-ns/sample")
		plugCPU := median(rt, "bench/roundtrip", "BenchmarkTransformerProcess/"+name, "plugin-cpu-ns/sample")
		ratio := "–"
		if in > 0 && out > 0 {
			ratio = fmt.Sprintf("%.1f×", in/out)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s (%s) |\n", name, num(in, 0), num(out, 0), ratio, num(inCPU, 0), num(outCPU, 0), num(plugCPU, 0))
	}
	rss := median(rt, "bench/roundtrip", "BenchmarkTransformerProcess/rate_of_change", "rss-B/series")
	heap := median(pl, "plugins/transformers/rate_of_change", "BenchmarkTransform", "heap-B/series")
	in := median(pl, "plugins/transformers/rate_of_change", "BenchmarkTransform", "samples/s")
	out := median(rt, "bench/roundtrip", "BenchmarkTransformerProcess/rate_of_change", "samples/s")
	if wcpu := median(rt, "bench/roundtrip", "BenchmarkTransformerWire", "cpu-ns/sample"); wcpu > 0 {
		fmt.Fprintf(w, "\nThe wire alone for this batch shape (`BenchmarkTransformerWire`: encode and decode both ways, no gRPC, no process, no transform): %s CPU ns/sample.\n", num(wcpu, 0))
	}
	fmt.Fprintf(w, "\nGoal: at least 1,000,000 samples/s for rate_of_change with 100,000 series cached. In-process: **%s samples/s**; through its process: **%s samples/s**; the rest is the wire (the plugin's reading and writing of the bytes, gRPC, TLS, the host's copy and check). A cached series costs **%s bytes of live heap** (in-process, after a GC) and grew the plugin's resident memory by %s bytes per series (heap headroom and batch garbage included). CPU-s per million samples = CPU ns/sample / 1000.\n\n",
		num(in, 0), num(out, 0), num(heap, 0), num(rss, 0))
}
