// Command storebench measures Altimeter's embedded store against the
// Prometheus TSDB library (the baseline) on issue 3's workload: 10,000
// resources x 3 meters x 200 points at 60 s (6,000,000 samples), written in
// time order in batches of 1,000. For each engine it reports ingest
// samples/s, bytes per sample on disk after compaction, peak RSS, and the
// median latency of Q1 (statistics of one resource), Q2 (one project, 100
// resources), Q3 (all resources, no group-by), each with period 3600 over
// the whole range, and Q4 (the last 100 raw samples of one resource).
//
// This is its own module so the TSDB's dependency tree stays out of the
// main go.mod. Each engine runs in its own process (peak RSS is its own);
// -engine all runs both, alternating, and writes the report with ratios.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type workload struct {
	resources, points, batch int
	meters                   []string
	t0, step                 int64 // unix µs
}

func (w *workload) series() int            { return w.resources * len(w.meters) }
func (w *workload) split(s int) (r, m int) { return s / len(w.meters), s % len(w.meters) }
func (w *workload) resource(r int) string  { return fmt.Sprintf("resource-%05d", r) }
func (w *workload) project(r int) string   { return "project-" + strconv.Itoa(r/100) }
func (w *workload) user(r int) string      { return "user-" + strconv.Itoa(r%37) }
func (w *workload) end() int64             { return w.t0 + int64(w.points)*w.step }
func (w *workload) samples() int           { return w.series() * w.points }
func (w *workload) qend() int64 { // the range rounded up to whole hours
	const h = int64(3600e6)
	return w.t0 + (w.end()-w.t0+h-1)/h*h
}

type point struct {
	series int
	t      int64
	v      float64
}

// gen yields the workload in time order, batch by batch. Values are shaped
// like real meters: cpu_util a percentage with one decimal, memory.usage a
// mostly flat MB figure, disk.read.bytes a growing counter.
func (w *workload) gen(fn func([]point) error) error {
	rng := rand.New(rand.NewPCG(1, 2))
	mem := make([]float64, w.resources)
	disk := make([]float64, w.resources)
	for r := range mem {
		mem[r] = float64(512 + rng.IntN(8)*512)
	}
	buf := make([]point, 0, w.batch)
	for i := 0; i < w.points; i++ {
		t := w.t0 + int64(i)*w.step
		for s := 0; s < w.series(); s++ {
			r, m := w.split(s)
			var v float64
			switch m {
			case 0:
				v = math.Round((50+40*math.Sin(float64(i+r)/20)+rng.Float64()*5)*10) / 10
			case 1:
				if rng.IntN(50) == 0 {
					mem[r] += float64(rng.IntN(64))
				}
				v = mem[r]
			default:
				disk[r] += float64(rng.IntN(1 << 20))
				v = disk[r]
			}
			buf = append(buf, point{s, t, v})
			if len(buf) == w.batch {
				if err := fn(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}

// engine is what the benchmark drives.
type engine interface {
	write(ctx context.Context, w *workload, batch []point) error
	compact(w *workload) error
	close() error
	q1(ctx context.Context, w *workload, r int) (int, error)
	q2(ctx context.Context, w *workload, p int) (int, error)
	q3(ctx context.Context, w *workload) (int, error)
	q4(ctx context.Context, w *workload, r int) (int, error)
}

// result is one engine run.
type result struct {
	Engine         string  `json:"engine"`
	Workload       string  `json:"workload"`
	Samples        int     `json:"samples"`
	IngestSeconds  float64 `json:"ingest_seconds"`
	SamplesPerSec  float64 `json:"samples_per_second"`
	IngestCPU      float64 `json:"ingest_cpu_seconds"`
	DiskBytes      int64   `json:"disk_bytes"`
	WALBytes       int64   `json:"wal_bytes"`
	BytesPerSample float64 `json:"bytes_per_sample"`
	PeakRSSMB      float64 `json:"peak_rss_mb"`
	Q1ms           float64 `json:"q1_ms"`
	Q2ms           float64 `json:"q2_ms"`
	Q3ms           float64 `json:"q3_ms"`
	Q4ms           float64 `json:"q4_ms"`
	Q1Rows         int     `json:"q1_rows"`
	Q2Rows         int     `json:"q2_rows"`
	Q3Rows         int     `json:"q3_rows"`
	Q4Rows         int     `json:"q4_rows"`
}

func main() {
	eng := flag.String("engine", "all", "altimeter, tsdb, all (both, alternating, in child processes), or promql (Altimeter's query API against a Prometheus server)")
	resources := flag.Int("resources", 10000, "resources")
	points := flag.Int("points", 200, "points per series")
	batch := flag.Int("batch", 1000, "samples per write")
	reps := flag.Int("reps", 21, "repetitions of each query (median reported)")
	runs := flag.Int("runs", 3, "runs per engine with -engine all")
	out := flag.String("out", "bench/out/store", "output prefix for -engine all (.json, .md)")
	dir := flag.String("dir", "", "data directory (default: a temp dir, removed); with -engine promql it is kept, and a second run over it skips the ingest")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the query phase here")
	ingestprofile := flag.String("ingestprofile", "", "write a CPU profile of the ingest phase here")
	only := flag.String("only", "", "with -engine promql: run only the queries whose name matches this regular expression")
	flag.Parse()
	w := &workload{resources: *resources, points: *points, batch: *batch, meters: []string{"cpu_util", "memory.usage", "disk.read.bytes"}, step: 60e6}
	// Recent and hour-aligned, so retention keeps it and the range aligns
	// with the hourly roll-ups.
	w.t0 = time.Now().Add(-5 * time.Hour).Truncate(time.Hour).UnixMicro()
	if *eng == "promql" {
		if err := runPromQL(w, promqlFlags{reps: *reps, out: *out, cpuprofile: *cpuprofile, dir: *dir, only: *only}); err != nil {
			fmt.Fprintln(os.Stderr, "storebench:", err)
			os.Exit(1)
		}
		return
	}
	if *eng == "all" {
		if err := runAll(*runs, *out, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "storebench:", err)
			os.Exit(1)
		}
		return
	}
	r, err := runOne(*eng, w, *dir, *reps, *cpuprofile, *ingestprofile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "storebench:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

func runOne(name string, w *workload, dir string, reps int, cpuprofile, ingestprofile string) (*result, error) {
	ctx := context.Background()
	if dir == "" {
		d, err := os.MkdirTemp("", "storebench-"+name+"-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var e engine
	var err error
	switch name {
	case "altimeter":
		e, err = openAltimeter(ctx, dir, w)
	case "tsdb":
		e, err = openTSDB(dir)
	default:
		return nil, fmt.Errorf("unknown engine %q", name)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	r := &result{Engine: name, Samples: w.samples(), Workload: fmt.Sprintf("%d resources x %d meters x %d points at 60 s, batches of %d", w.resources, len(w.meters), w.points, w.batch)}
	if ingestprofile != "" {
		f, err := os.Create(ingestprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	cpu0 := cpuSeconds()
	t0 := time.Now()
	if err := w.gen(func(b []point) error { return e.write(ctx, w, b) }); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	if ingestprofile != "" {
		pprof.StopCPUProfile()
	}
	r.IngestSeconds = time.Since(t0).Seconds()
	r.IngestCPU = cpuSeconds() - cpu0
	r.SamplesPerSec = float64(r.Samples) / r.IngestSeconds
	if err := e.compact(w); err != nil {
		return nil, fmt.Errorf("compact: %w", err)
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var qerr error
	measure := func(fn func() (int, error)) (float64, int) {
		var ds []float64
		rows := 0
		for i := 0; i < reps; i++ {
			t := time.Now()
			n, err := fn()
			ds = append(ds, float64(time.Since(t).Microseconds())/1000)
			if err != nil && qerr == nil {
				qerr = err
			}
			rows = n
		}
		sort.Float64s(ds)
		return ds[len(ds)/2], rows
	}
	r.Q1ms, r.Q1Rows = measure(func() (int, error) { return e.q1(ctx, w, rng.IntN(w.resources)) })
	r.Q2ms, r.Q2Rows = measure(func() (int, error) { return e.q2(ctx, w, rng.IntN(w.resources/100)) })
	r.Q3ms, r.Q3Rows = measure(func() (int, error) { return e.q3(ctx, w) })
	r.Q4ms, r.Q4Rows = measure(func() (int, error) { return e.q4(ctx, w, rng.IntN(w.resources)) })
	if qerr != nil {
		return nil, fmt.Errorf("query: %w", qerr)
	}
	if err := e.close(); err != nil {
		return nil, fmt.Errorf("close: %w", err)
	}
	// On disk after compaction and a clean close: data files, and the
	// write-ahead logs the engines keep besides (Pebble's *.log, SQLite's
	// -wal, TSDB's wal/ and chunks_head/).
	r.DiskBytes, r.WALBytes = du(dir)
	r.BytesPerSample = float64(r.DiskBytes) / float64(r.Samples)
	r.PeakRSSMB = peakRSSMB()
	return r, nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSSMB reads VmHWM, the process's peak resident set.
func peakRSSMB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// du sums file sizes under dir: data, and write-ahead logs apart.
func du(dir string) (data, wal int64) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasSuffix(p, ".log") || strings.HasSuffix(p, "-wal") || strings.HasPrefix(rel, "wal"+string(filepath.Separator)) || strings.HasPrefix(rel, "chunks_head"+string(filepath.Separator)) {
			wal += fi.Size()
		} else {
			data += fi.Size()
		}
		return nil
	})
	return data, wal
}

// runAll runs each engine runs times in child processes, alternating, and
// writes the medians with ratios to the TSDB baseline.
func runAll(runs int, out string, args []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var childArgs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(strings.TrimLeft(a, "-"), "engine") || strings.HasPrefix(strings.TrimLeft(a, "-"), "out") || strings.HasPrefix(strings.TrimLeft(a, "-"), "runs") {
			if !strings.Contains(a, "=") {
				i++
			}
			continue
		}
		childArgs = append(childArgs, a)
	}
	all := map[string][]result{}
	for i := 0; i < runs; i++ {
		for _, e := range []string{"tsdb", "altimeter"} {
			cmd := exec.Command(self, append([]string{"-engine", e}, childArgs...)...)
			cmd.Stderr = os.Stderr
			b, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("%s run %d: %w", e, i+1, err)
			}
			var r result
			if err := json.Unmarshal(b, &r); err != nil {
				return fmt.Errorf("%s run %d: %w", e, i+1, err)
			}
			fmt.Fprintf(os.Stderr, "run %d %-9s %9.0f samples/s %5.2f B/sample rss %6.0f MB  q1 %7.2f ms q2 %7.2f ms q3 %8.2f ms q4 %7.2f ms\n",
				i+1, e, r.SamplesPerSec, r.BytesPerSample, r.PeakRSSMB, r.Q1ms, r.Q2ms, r.Q3ms, r.Q4ms)
			all[e] = append(all[e], r)
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(all, "", "  ")
	if err := os.WriteFile(out+".json", raw, 0o644); err != nil {
		return err
	}
	return os.WriteFile(out+".md", []byte(report(all, runs)), 0o644)
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

func report(all map[string][]result, runs int) string {
	a, t := all["altimeter"], all["tsdb"]
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Store: Altimeter vs Prometheus TSDB (same workload, same invocation)\n\n")
	fmt.Fprintf(&sb, "%d samples (%s, time order); medians of %d runs per engine, alternating.\n\n", a[0].Samples, a[0].Workload, runs)
	fmt.Fprintf(&sb, "| figure | altimeter | tsdb (baseline) | ratio altimeter/tsdb | goal |\n|---|---|---|---|---|\n")
	row := func(name, unit, goal string, f func(result) float64) {
		x, y := median(a, f), median(t, f)
		fmt.Fprintf(&sb, "| %s | %.4g %s | %.4g %s | %.3g | %s |\n", name, x, unit, y, unit, x/y, goal)
	}
	row("ingest", "samples/s", ">= tsdb", func(r result) float64 { return r.SamplesPerSec })
	row("ingest CPU", "s", "", func(r result) float64 { return r.IngestCPU })
	row("disk after compaction (data files)", "B/sample", "<= 3", func(r result) float64 { return r.BytesPerSample })
	row("write-ahead logs left besides", "B/sample", "", func(r result) float64 { return float64(r.WALBytes) / float64(r.Samples) })
	row("peak RSS", "MB", "", func(r result) float64 { return r.PeakRSSMB })
	row("Q1 stats, one resource, period 1 h", "ms", "< 1 ms", func(r result) float64 { return r.Q1ms })
	row("Q2 stats, one project (100 resources)", "ms", "< 5 ms", func(r result) float64 { return r.Q2ms })
	row("Q3 stats, all 10,000 resources", "ms", "< 10 ms", func(r result) float64 { return r.Q3ms })
	row("Q4 last 100 raw samples of one resource", "ms", "", func(r result) float64 { return r.Q4ms })
	fmt.Fprintf(&sb, "\nRows returned (checks both engines answer the same shape): altimeter q1/q2/q3/q4 = %d/%d/%d/%d, tsdb = %d/%d/%d/%d.\n",
		a[0].Q1Rows, a[0].Q2Rows, a[0].Q3Rows, a[0].Q4Rows, t[0].Q1Rows, t[0].Q2Rows, t[0].Q3Rows, t[0].Q4Rows)
	return sb.String()
}
