// Package gen makes the benchmark's input (Influx line protocol, one line
// per sample) and checks the pipeline's output against it. Sample i has the
// timestamp Base+i nanoseconds, so every output line names the input it came
// from and Verify can tell missing, duplicated and altered samples apart.
package gen

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
)

// Base is the timestamp (ns) of sample 0.
const Base int64 = 1_700_000_000_000_000_000

// Meters are the measurement names, cycled per resource.
var Meters = []string{"mem.used", "mem.free", "cpu.util", "disk.read.bytes", "net.rx.bytes"}

// Shape is the input: Resources resources x len(Meters) meters, repeated
// until N samples.
type Shape struct {
	N         int
	Resources int
}

// parts of sample i: resource and meter index.
func (s Shape) parts(i int) (res, meter int) {
	within := i % (s.Resources * len(Meters))
	return within / len(Meters), within % len(Meters)
}

// Volume is sample i's input volume (bytes); exact in float64.
func Volume(i int) float64 { return float64((i*7919)%100_000_007) + 0.25 }

// Scaled is what unit_conversion with scale "volume / 1024" makes of it.
func Scaled(i int) float64 { return Volume(i) / 1024 }

// AppendLine appends sample i as one line of line protocol.
func (s Shape) AppendLine(dst []byte, i int) []byte {
	res, m := s.parts(i)
	dst = append(dst, Meters[m]...)
	dst = append(dst, ",host=node-"...)
	dst = appendPad(dst, res%50, 2)
	dst = append(dst, ",project_id=proj-"...)
	dst = appendPad(dst, res%20, 2)
	dst = append(dst, ",resource_id=res-"...)
	dst = appendPad(dst, res, 4)
	dst = append(dst, ",unit=B value="...)
	dst = strconv.AppendFloat(dst, Volume(i), 'f', -1, 64)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, Base+int64(i), 10)
	return append(dst, '\n')
}

func appendPad(dst []byte, v, width int) []byte {
	s := strconv.Itoa(v)
	for k := len(s); k < width; k++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// Chunks returns the N lines split into parts contiguous chunks of whole
// lines (one per TCP connection).
func (s Shape) Chunks(parts int) [][]byte {
	out := make([][]byte, parts)
	for p := range parts {
		lo, hi := p*s.N/parts, (p+1)*s.N/parts
		buf := make([]byte, 0, (hi-lo)*112)
		for i := lo; i < hi; i++ {
			buf = s.AppendLine(buf, i)
		}
		out[p] = buf
	}
	return out
}

// Result is what Verify found in an output file.
type Result struct {
	Lines      int `json:"lines"`
	Unique     int `json:"unique"`
	Duplicates int `json:"duplicates"`
	Missing    int `json:"missing"`
	// Bad counts lines that are not an expected sample (unknown timestamp,
	// wrong name, unit or volume).
	Bad         int    `json:"bad"`
	FirstBad    string `json:"first_bad,omitempty"`
	OK          bool   `json:"ok"`
	OutputBytes int64  `json:"output_bytes"`
}

// Verify reads the influx output at path and checks that it holds every
// sample exactly once, renamed nothing, in unit KB, scaled by 1/1024.
func (s Shape) Verify(path string) (Result, error) {
	var r Result
	f, err := os.Open(path)
	if err != nil {
		return r, err
	}
	defer func() { _ = f.Close() }()
	seen := make([]bool, s.N)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	bad := func(line []byte) {
		r.Bad++
		if r.FirstBad == "" {
			r.FirstBad = string(line)
		}
	}
	for sc.Scan() {
		line := sc.Bytes()
		r.OutputBytes += int64(len(line)) + 1
		r.Lines++
		sp := bytes.LastIndexByte(line, ' ')
		if sp < 0 {
			bad(line)
			continue
		}
		ts, err := strconv.ParseInt(string(line[sp+1:]), 10, 64)
		i := ts - Base
		if err != nil || i < 0 || i >= int64(s.N) {
			bad(line)
			continue
		}
		_, m := s.parts(int(i))
		vi := bytes.Index(line, []byte(" value="))
		if vi < 0 || !bytes.HasPrefix(line, []byte(Meters[m]+",")) || !bytes.Contains(line[:vi], []byte(",unit=KB")) {
			bad(line)
			continue
		}
		v, err := strconv.ParseFloat(string(line[vi+7:sp]), 64)
		if want := Scaled(int(i)); err != nil || math.Abs(v-want) > 1e-12*math.Abs(want) {
			bad(line)
			continue
		}
		if seen[i] {
			r.Duplicates++
			continue
		}
		seen[i] = true
		r.Unique++
	}
	if err := sc.Err(); err != nil {
		return r, err
	}
	r.Missing = s.N - r.Unique
	r.OK = r.Lines == s.N && r.Unique == s.N && r.Duplicates == 0 && r.Bad == 0
	return r, nil
}

// Describe is one line for the report.
func (s Shape) Describe() string {
	return fmt.Sprintf("%d samples = %d resources x %d meters x %d rounds; 4 tags + 1 field + ns timestamp per line, ~%d bytes/line",
		s.N, s.Resources, len(Meters), s.N/(s.Resources*len(Meters)), len(s.AppendLine(nil, s.N/2)))
}

// Run is one pipeline or baseline run's figures, written by bench/pipeline
// as JSON and read by bench/report.
type Run struct {
	Mode      string `json:"mode"`
	Samples   int    `json:"samples"`
	Conns     int    `json:"conns,omitempty"`
	BatchSize int    `json:"batch_size"`

	// Seconds is first byte sent (or, in-process, first line decoded) to
	// last sample written.
	Seconds          float64 `json:"seconds"`
	SendSeconds      float64 `json:"send_seconds,omitempty"`
	SamplesPerSecond float64 `json:"samples_per_second"`

	// CPU of the system under test: the agent and every plugin process (or
	// this process for the baseline), user+system, over the run.
	CPUSeconds       float64            `json:"cpu_seconds"`
	CPUPerMillion    float64            `json:"cpu_s_per_million"`
	CPUByProcess     map[string]float64 `json:"cpu_by_process,omitempty"`
	PeakRSSMiB       float64            `json:"peak_rss_mib,omitempty"`
	PeakRSSByProcess map[string]float64 `json:"peak_rss_mib_by_process,omitempty"`

	// Context switches (voluntary + involuntary, all threads) of the agent
	// and plugins over the run.
	ContextSwitches int64 `json:"context_switches,omitempty"`

	// The load generator's own CPU (sending, and watching the output file).
	LoadgenCPUSeconds float64 `json:"loadgen_cpu_seconds,omitempty"`

	PublisherOutSamples float64 `json:"publisher_out_samples_total,omitempty"`
	SourceSamples       float64 `json:"source_samples_total,omitempty"`

	Verify Result `json:"verify"`
}
