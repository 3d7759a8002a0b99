package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

func ptr(s string) *string { return &s }

var ts = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func smp(name, unit string, typ sample.Type, vol float64, md map[string]string) sample.Sample {
	return sample.Sample{
		Name: name, Unit: unit, Type: typ, Volume: vol, ResourceID: "r1", ProjectID: "p1", UserID: "u1",
		Timestamp: ts, Source: "openstack", MessageID: "m-" + name, Metadata: md,
	}
}

func TestTransform(t *testing.T) {
	t.Parallel()
	vcpus := map[string]string{"flavor.vcpus": "4"}
	tests := []struct {
		name string
		cfg  config
		in   []sample.Sample
		want []sample.Sample
	}{
		{
			name: "scale, unit and name",
			cfg:  config{Meters: []string{"hardware.memory.*"}, Name: ptr("memory.mb"), Unit: ptr("MB"), Scale: ptr("volume / 1024")},
			in:   []sample.Sample{smp("hardware.memory.used", "KB", sample.Gauge, 2048, nil), smp("cpu", "ns", sample.Cumulative, 7, nil)},
			want: []sample.Sample{
				func() sample.Sample {
					s := smp("hardware.memory.used", "MB", sample.Gauge, 2, nil)
					s.Name = "memory.mb"
					return s
				}(),
				smp("cpu", "ns", sample.Cumulative, 7, nil),
			},
		},
		{
			name: "map_from renames with groups",
			cfg:  config{Meters: []string{"*"}, MapFrom: ptr(`^disk\.(read|write)\.bytes$`), MapTo: ptr("disk.$1.kilobytes"), Unit: ptr("KB"), Scale: ptr("volume / 1024")},
			in: []sample.Sample{
				smp("disk.read.bytes", "B", sample.Cumulative, 4096, nil),
				smp("disk.write.bytes", "B", sample.Cumulative, 1024, nil),
				smp("disk.read.requests", "request", sample.Cumulative, 10, nil),
			},
			want: []sample.Sample{
				renamed(smp("disk.read.bytes", "KB", sample.Cumulative, 4, nil), "disk.read.kilobytes"),
				renamed(smp("disk.write.bytes", "KB", sample.Cumulative, 1, nil), "disk.write.kilobytes"),
				// applies (meters = *) but map_from does not match: name kept, rest converted
				smp("disk.read.requests", "KB", sample.Cumulative, 10.0/1024, nil),
			},
		},
		{
			name: "type only",
			cfg:  config{Meters: []string{"a"}, Type: ptr("delta")},
			in:   []sample.Sample{smp("a", "B", sample.Cumulative, 1, nil)},
			want: []sample.Sample{smp("a", "B", sample.Delta, 1, nil)},
		},
		{
			name: "metadata and name in scale",
			cfg:  config{Meters: []string{"cpu*"}, Scale: ptr(`volume / 1e9 / float(metadata["flavor.vcpus"]) * 100 if name == "cpu" else volume`)},
			in:   []sample.Sample{smp("cpu", "ns", sample.Cumulative, 8e9, vcpus), smp("cpu_l3_cache", "B", sample.Gauge, 5, vcpus)},
			want: []sample.Sample{smp("cpu", "ns", sample.Cumulative, 200, vcpus), smp("cpu_l3_cache", "B", sample.Gauge, 5, vcpus)},
		},
		{
			name: "other fields in scale; a boolean result becomes a number",
			cfg:  config{Meters: []string{"*"}, Scale: ptr(`resource_id == "r1" and project_id == "p1" and user_id == "u1" and unit == "B"`)},
			in:   []sample.Sample{smp("x", "B", sample.Gauge, 1, nil)},
			want: []sample.Sample{smp("x", "B", sample.Gauge, 1, nil)},
		},
		{
			name: "exclusions",
			cfg:  config{Meters: []string{"disk.*", "!disk.*.requests"}, Unit: ptr("X")},
			in:   []sample.Sample{smp("disk.read.bytes", "B", sample.Gauge, 1, nil), smp("disk.read.requests", "r", sample.Gauge, 1, nil), smp("cpu", "ns", sample.Gauge, 1, nil)},
			want: []sample.Sample{smp("disk.read.bytes", "X", sample.Gauge, 1, nil), smp("disk.read.requests", "r", sample.Gauge, 1, nil), smp("cpu", "ns", sample.Gauge, 1, nil)},
		},
		{
			name: "only exclusions",
			cfg:  config{Meters: []string{"!cpu"}, Unit: ptr("X")},
			in:   []sample.Sample{smp("cpu", "ns", sample.Gauge, 1, nil), smp("mem", "MB", sample.Gauge, 1, nil)},
			want: []sample.Sample{smp("cpu", "ns", sample.Gauge, 1, nil), smp("mem", "X", sample.Gauge, 1, nil)},
		},
		{
			name: "failing samples dropped, order kept",
			cfg:  config{Meters: []string{"*"}, Scale: ptr(`volume * float(metadata["f"])`)},
			in: []sample.Sample{
				smp("a", "B", sample.Gauge, 1, map[string]string{"f": "2"}),
				smp("b", "B", sample.Gauge, 1, map[string]string{"f": "x"}),
				smp("c", "B", sample.Gauge, 1, nil),
				smp("d", "B", sample.Gauge, 3, map[string]string{"f": "2"}),
			},
			want: []sample.Sample{
				smp("a", "B", sample.Gauge, 2, map[string]string{"f": "2"}),
				smp("d", "B", sample.Gauge, 6, map[string]string{"f": "2"}),
			},
		},
		{
			name: "division by zero drops the sample, as Python raised",
			cfg:  config{Meters: []string{"*"}, Scale: ptr(`volume / volume`)},
			in:   []sample.Sample{smp("a", "B", sample.Gauge, 0, nil), smp("b", "B", sample.Gauge, 2, nil)},
			want: []sample.Sample{smp("b", "B", sample.Gauge, 1, nil)},
		},
		{
			// The report: "volume // 1024" passed validate and did
			// nothing (expr-lang read // as a comment).
			name: "floor division, power, modulo",
			cfg:  config{Meters: []string{"*"}, Scale: ptr(`volume // 1024 + 2 ** 3 * (volume % 7)`)},
			in:   []sample.Sample{smp("a", "B", sample.Gauge, 1048576, nil), smp("b", "B", sample.Gauge, 1048577, nil)},
			want: []sample.Sample{smp("a", "B", sample.Gauge, 1024+8*(1048576%7), nil), smp("b", "B", sample.Gauge, 1024+8*(1048577%7), nil)},
		},
		{
			name: "unit mapping",
			cfg:  config{Meters: []string{"*"}, UnitMapFrom: ptr(`^(B|packet)$`), UnitMapTo: ptr("$1/s")},
			in:   []sample.Sample{smp("a", "B", sample.Gauge, 1, nil), smp("b", "ns", sample.Gauge, 1, nil)},
			want: []sample.Sample{smp("a", "B/s", sample.Gauge, 1, nil), smp("b", "ns", sample.Gauge, 1, nil)},
		},
		{
			name: "empty batch",
			cfg:  config{Meters: []string{"*"}, Scale: ptr(`volume`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := newConverter(tt.cfg, sdktest.Logger(t))
			require.NoError(t, err)
			got, err := c.Transform(t.Context(), tt.in)
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tt.want, got, cmpopts.EquateEmpty()))
		})
	}
}

func renamed(s sample.Sample, name string) sample.Sample { s.Name = name; return s }

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		src    string
		want   []string // "line: summary"
		detail string
	}{
		{name: "defaults", src: ``},
		{name: "everything", src: "meters = [\"a.*\"]\nunit = \"B\"\ntype = \"gauge\"\nscale = \"volume * 8\"\nmap_from = \"^a\\\\.(.*)$\"\nmap_to = \"b.$1\"\n"},
		{name: "scale does not compile", src: "\n\nscale = \"volume * \"", want: []string{"3: Invalid value for scale"}, detail: "column 10: unexpected end of expression"},
		{name: "scale is not a number", src: `scale = "name"`, want: []string{"1: Invalid value for scale"}, detail: "column 1: the expression gives a str, not a number"},
		{name: "scale type error", src: `scale = "volume * name"`, want: []string{"1: Invalid value for scale"}, detail: "column 8: unsupported operand types for *: float and str"},
		{name: "unknown variable", src: `scale = "volume * vcpus"`, want: []string{"1: Invalid value for scale"}, detail: "column 10: unknown name vcpus"},
		{name: "expr-lang syntax", src: `scale = "name == \"cpu\" ? volume : 0"`, want: []string{"1: Invalid value for scale"}, detail: "Python's conditional is a if cond else b"},
		{name: "bad regexp", src: "map_from = \"(\"\nmap_to = \"x\"", want: []string{"1: Invalid value for map_from"}, detail: "missing closing )"},
		{name: "map_from alone", src: "map_from = \"a\"", want: []string{"1: Invalid value for map_to"}},
		{name: "map_to alone", src: "\nmap_to = \"a\"", want: []string{"1: Invalid value for map_from"}},
		{name: "name with map_from", src: "name = \"x\"\nmap_from = \"a\"\nmap_to = \"b\"", want: []string{"1: Invalid value for name"}},
		{name: "bad type", src: `type = "counter"`, want: []string{"1: Invalid value for type"}},
		{name: "empty name and unit", src: "name = \"\"\nunit = \"\"", want: []string{"1: Invalid value for name", "2: Invalid value for unit"}},
		{name: "bad glob", src: `meters = ["a", "b["]`, want: []string{"1: Invalid value for meters"}},
		{name: "no meters", src: `meters = []`, want: []string{"1: Invalid value for meters"}},
		{name: "unknown attribute", src: `scaling = "x"`, want: []string{"1: Unsupported argument"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := spec()
			p := sdktest.Start(t, s.Info(), s.Register())
			diags := p.Configure(t, tt.src)
			require.ElementsMatch(t, tt.want, sdktest.Summaries(diags), "diagnostics: %v", diags)
			if tt.detail != "" {
				require.Contains(t, diags[0].Detail, tt.detail)
			}
		})
	}
}

// TestWarnOncePerError checks that a scale error is logged once per distinct
// message however many samples hit it, and that drops are counted.
func TestWarnOncePerError(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Warn})
	c, err := newConverter(config{Meters: []string{"*"}, Scale: ptr(`volume * float(metadata["f"])`)}, log)
	require.NoError(t, err)
	batch := func() []sample.Sample {
		return []sample.Sample{
			smp("a", "B", sample.Gauge, 1, nil), // float(nil)
			smp("b", "B", sample.Gauge, 1, nil),
			smp("c", "B", sample.Gauge, 1, map[string]string{"f": "1"}),
		}
	}
	for range 3 {
		out, err := c.Transform(t.Context(), batch())
		require.NoError(t, err)
		require.Len(t, out, 1)
	}
	require.Equal(t, uint64(6), c.report.Load(cScaleFailed))
	require.Equal(t, 1, strings.Count(buf.String(), "scale failed"), buf.String())
}

func TestGRPC(t *testing.T) {
	t.Parallel()
	c := sdktest.Transformer(t, spec(), `
meters   = ["disk.*.bytes"]
map_from = "^disk\\.(read|write)\\.bytes$"
map_to   = "disk.$1.kilobytes"
unit     = "KB"
type     = "gauge"
scale    = "volume / 1024"
`)
	in := sample.Batch{
		Samples: []sample.Sample{
			smp("disk.read.bytes", "B", sample.Cumulative, 2048, map[string]string{"host": "h"}),
			smp("cpu", "ns", sample.Cumulative, 1, nil),
		},
		Events: []sample.Event{{MessageID: "e1", EventType: "compute.instance.create.end", Generated: ts}},
	}
	got, err := c.Transform(t.Context(), &in)
	require.NoError(t, err)
	want := []sample.Sample{
		renamed(smp("disk.read.bytes", "KB", sample.Gauge, 2, map[string]string{"host": "h"}), "disk.read.kilobytes"),
		smp("cpu", "ns", sample.Cumulative, 1, nil),
	}
	require.Empty(t, cmp.Diff(want, got.Samples, cmpopts.EquateEmpty()))
	require.Len(t, got.Events, 1)
	require.Equal(t, "e1", got.Events[0].MessageID)

	flushed, err := c.Flush(t.Context())
	require.NoError(t, err)
	require.Empty(t, flushed)
}

func TestExample(t *testing.T) {
	t.Parallel()
	s := spec()
	sdktest.CheckExample(t, "example.hcl", s.Info(), s.Register())
}

// BenchmarkTransform converts 1000-sample batches, half of which the
// transformer applies to (glob match, regex rename, scale with metadata).
func BenchmarkTransform(b *testing.B) {
	cases := []struct {
		name string
		cfg  config
	}{
		{"scale", config{Meters: []string{"*"}, Unit: ptr("KB"), Scale: ptr("volume / 1024")}},
		{"scale+metadata+map", config{
			Meters: []string{"disk.*", "!disk.*.requests"}, MapFrom: ptr(`^disk\.(read|write)\.bytes$`), MapTo: ptr("disk.$1.kilobytes"),
			Unit: ptr("KB"), Type: ptr("gauge"), Scale: ptr(`volume / 1024 * float(metadata["flavor.vcpus"])`),
		}},
		{"rename only", config{Meters: []string{"disk.*"}, Name: ptr("x"), Unit: ptr("KB")}},
	}
	md := map[string]string{"flavor.vcpus": "2", "host": "h1"}
	names := []string{"disk.read.bytes", "disk.write.bytes", "cpu", "memory.usage"}
	src := make([]sample.Sample, 1000)
	for i := range src {
		src[i] = smp(names[i%len(names)], "B", sample.Cumulative, float64(i), md)
		src[i].ResourceID = fmt.Sprintf("res-%d", i%50)
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			c, err := newConverter(bc.cfg, hclog.NewNullLogger())
			require.NoError(b, err)
			batch := make([]sample.Sample, len(src))
			b.ReportAllocs()
			for b.Loop() {
				copy(batch, src)
				if _, err := c.Transform(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/sample")
		})
	}
}
