package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/influx"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

func testSamples(n int) []sample.Sample {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	out := make([]sample.Sample, n)
	for i := range out {
		out[i] = sample.Sample{
			Name: "cpu.util", Type: sample.Gauge, Unit: "%", Volume: float64(i) + 0.5,
			ResourceID: fmt.Sprintf("r%d", i), ProjectID: "p", UserID: "u", Source: "openstack",
			Timestamp: ts.Add(time.Duration(i) * time.Second), MessageID: fmt.Sprintf("m%d", i),
			Metadata: map[string]string{"host": "compute-1", "flavor.name": "m1.small"},
		}
	}
	return out
}

func readJSONL(t *testing.T, path string) ([]sample.Sample, []map[string]any) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var (
		samples []sample.Sample
		events  []map[string]any
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		var m map[string]any
		require.NoError(t, d.Decode(&m))
		if _, ok := m["event_type"]; ok {
			events = append(events, m)
			continue
		}
		s, err := sample.FromCeilometer(m)
		require.NoError(t, err)
		samples = append(samples, s)
	}
	require.NoError(t, sc.Err())
	return samples, events
}

func TestRoundTrip(t *testing.T) {
	in := testSamples(3)
	ev := sample.Event{EventType: "compute.instance.create.end", MessageID: "e1", Generated: in[0].Timestamp,
		Traits: []sample.Trait{{Name: "host", Type: sample.TraitText, Text: "h"}, {Name: "n", Type: sample.TraitInt, Int: 3}}}
	tests := []struct {
		format string
		read   func(t *testing.T, path string) []sample.Sample
	}{
		{"jsonl", func(t *testing.T, path string) []sample.Sample {
			s, events := readJSONL(t, path)
			require.Len(t, events, 2)
			require.Equal(t, "compute.instance.create.end", events[0]["event_type"])
			require.Equal(t, "2024-01-02T03:04:05.123456+00:00", events[0]["generated"])
			return s
		}},
		{"influx", func(t *testing.T, path string) []sample.Sample {
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			got, errs := influx.Decode(raw, influx.Options{})
			require.Empty(t, errs)
			for i := range got {
				got[i].MessageID = in[i%len(in)].MessageID // line protocol does not carry it
			}
			return got
		}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "dir", "out")
			client := sdktest.Publisher(t, spec(), fmt.Sprintf("path = %q\nformat = %q\nfsync = true", path, tc.format))
			for range 2 {
				r, err := client.Publish(context.Background(), &sample.Batch{Samples: in, Events: []sample.Event{ev}})
				require.NoError(t, err)
				require.Equal(t, base.Accepted, r.Outcome, r.Reason)
			}
			got := tc.read(t, path)
			require.Empty(t, cmp.Diff(append(append([]sample.Sample{}, in...), in...), got))
		})
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.influx")
	one := influx.Encode(nil, &testSamples(1)[0])
	// Room for two lines per file.
	client := sdktest.Publisher(t, spec(), fmt.Sprintf("path = %q\nformat = \"influx\"\nmax_bytes = %d\nmax_backups = 2", path, 2*len(one)+1))
	batch := &sample.Batch{Samples: testSamples(1)}
	for range 7 {
		r, err := client.Publish(context.Background(), batch)
		require.NoError(t, err)
		require.Equal(t, base.Accepted, r.Outcome, r.Reason)
	}
	// 7 lines: path.2 and path.1 hold 2 each, path holds 1; 2 were dropped.
	for name, lines := range map[string]int{"s.influx": 1, "s.influx.1": 2, "s.influx.2": 2} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err, name)
		require.Equal(t, lines, bytes.Count(raw, []byte("\n")), name)
	}
	_, err := os.Stat(path + ".3")
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestRotationWithoutBackups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.jsonl")
	client := sdktest.Publisher(t, spec(), fmt.Sprintf("path = %q\nmax_bytes = 10\nmax_backups = 0", path))
	for range 3 {
		r, err := client.Publish(context.Background(), &sample.Batch{Samples: testSamples(1)})
		require.NoError(t, err)
		require.Equal(t, base.Accepted, r.Outcome, r.Reason)
	}
	got, _ := readJSONL(t, path)
	require.Len(t, got, 1)
	matches, err := filepath.Glob(path + ".*")
	require.NoError(t, err)
	require.Empty(t, matches)
}

func TestDiskErrorIsRetry(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-dir")
	require.NoError(t, os.WriteFile(blocker, []byte("x"), 0o644))
	client := sdktest.Publisher(t, spec(), fmt.Sprintf("path = %q", filepath.Join(blocker, "samples.jsonl")))
	r, err := client.Publish(context.Background(), &sample.Batch{Samples: testSamples(2)})
	require.NoError(t, err)
	require.Equal(t, base.Retry, r.Outcome)
	require.Contains(t, r.Reason, "not-a-dir")

	// Once the obstacle is gone, the same batch goes through.
	require.NoError(t, os.Remove(blocker))
	r, err = client.Publish(context.Background(), &sample.Batch{Samples: testSamples(2)})
	require.NoError(t, err)
	require.Equal(t, base.Accepted, r.Outcome, r.Reason)
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   string
		wants []string
	}{
		{name: "minimal", src: `path = "x"`},
		{name: "missing path", src: ``, wants: []string{"path"}},
		{name: "bad values", src: "path = \"x\"\nformat = \"csv\"\nmax_bytes = -1\nmax_backups = -1", wants: []string{"format", "max_bytes", "max_backups"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sp := spec()
			p := sdktest.Start(t, sp.Info(), sp.Register())
			diags := p.Configure(t, tc.src)
			if len(tc.wants) == 0 {
				require.False(t, diags.HasErrors(), diags.Error())
				return
			}
			for _, w := range tc.wants {
				require.Contains(t, sdktest.Text(diags), w)
			}
		})
	}
}

func TestCloseTwice(t *testing.T) {
	p, err := newFile(config{Path: filepath.Join(t.TempDir(), "f"), Format: "jsonl", MaxBytes: 1 << 20}, sdktest.Logger(t))
	require.NoError(t, err)
	require.NoError(t, p.Close(context.Background()))
	require.NoError(t, p.Publish(context.Background(), &sample.Batch{Samples: testSamples(1)}))
	require.NoError(t, p.Close(context.Background()))
	require.NoError(t, p.Close(context.Background()))
}

func TestExample(t *testing.T) {
	sp := spec()
	sdktest.CheckExample(t, "example.hcl", sp.Info(), sp.Register())
}

func BenchmarkPublish(b *testing.B) {
	for _, format := range []string{"influx", "jsonl"} {
		b.Run(format, func(b *testing.B) {
			c := defaultConfig()
			c.Path, c.Format, c.MaxBytes = filepath.Join(b.TempDir(), "out"), format, 0
			p, err := newFile(c, sdktest.Logger(b))
			require.NoError(b, err)
			b.Cleanup(func() { _ = p.Close(context.Background()) })
			batch := &sample.Batch{Samples: testSamples(1000)}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := p.Publish(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
