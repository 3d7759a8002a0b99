package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/altimeter/altimeter/internal/xform/xformtest"
	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
	"github.com/altimeter/altimeter/sdk/transformer"
)

// newPaths builds two instances from cfg that share a clock and make the
// same ids for inputs without one.
func newPaths(t testing.TB, cfg string, clock *time.Time) xformtest.Paths {
	mk := func() transformer.Transformer {
		r, ok := xformtest.New(t, spec(), cfg).(*rate)
		require.True(t, ok)
		r.now = func() time.Time { return *clock }
		n := 0
		r.ids.Random = func() string { n++; return fmt.Sprintf("random-%d", n) }
		return r
	}
	return xformtest.Paths{Decode: mk(), Raw: mk()}
}

// TestRawEquivalence: TransformRaw gives what Transform gives, batch after
// batch, with the same counters: TestTransform's cases and the edges of
// the encoded form.
func TestRawEquivalence(t *testing.T) {
	t.Parallel()
	md := map[string]string{"cpu_number": "2", "host": "h1"}
	ev := sample.Event{MessageID: "e1", EventType: "compute.instance.create.end", Generated: t0,
		Traits: []sample.Trait{{Name: "x", Type: sample.TraitInt, Int: 3}}}
	noID := func(s sample.Sample) sample.Sample { s.MessageID = ""; return s }
	signed := func(s sample.Sample) sample.Sample { s.Signature = "sig"; return s }
	vol := func(s sample.Sample, v float64) sample.Sample { s.Volume = v; return s }
	cases := transformCases()
	cases = append(cases,
		xformtest.Case{
			Name: "events pass after the samples; no id, a signature, odd volumes",
			Cfg:  cpuUtil,
			Batches: [][]sample.Sample{
				{noID(smp("cpu", sample.Cumulative, 0, "r1", 0, md)), smp("memory", sample.Gauge, math.NaN(), "r1", 0, nil)},
				{noID(smp("cpu", sample.Cumulative, 5e9, "r1", 10, md)), signed(smp("cpu", sample.Cumulative, 1, "r2", 0, nil)),
					vol(smp("disk", sample.Gauge, 0, "r1", 0, md), math.Copysign(0, -1))},
				{signed(smp("cpu", sample.Cumulative, 2e9, "r2", 1, nil)), smp("cpu", sample.Cumulative, math.Inf(1), "r1", 20, md)},
			},
		},
		xformtest.Case{
			Name: "redelivery (TestRedelivery)",
			Cfg:  cpuUtil,
			Batches: [][]sample.Sample{
				{smp("cpu", sample.Cumulative, 0, "r1", 0, md), smp("cpu", sample.Cumulative, 2e9, "r1", 10, md)},
				{smp("cpu", sample.Cumulative, 0, "r1", 0, md), smp("cpu", sample.Cumulative, 2e9, "r1", 10, md)},
				{smp("cpu", sample.Cumulative, 6e9, "r1", 20, md)},
			},
		},
		xformtest.Case{
			Name:    "scale on every field",
			Cfg:     "scale = \"(1 if name == 'cpu' and unit == 'ns' and type == 'cumulative' and resource_id and project_id == 'p' and user_id == 'u' and source and id and timestamp and monotonic_time == None else 2) * float(resource_metadata.host == 'h1')\"",
			Batches: [][]sample.Sample{{smp("cpu", sample.Cumulative, 0, "r1", 0, md), smp("cpu", sample.Cumulative, 5e9, "r1", 10, md), smp("cpu", sample.Cumulative, 5e9, "r2", 10, nil), smp("cpu", sample.Cumulative, 6e9, "r2", 11, nil)}},
			Want:    [][]out{{o("cpu", "ns", "cumulative", "r1", 5e8), o("cpu", "ns", "cumulative", "r2", 0)}},
		},
	)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			clock := t0
			p := newPaths(t, tc.Cfg, &clock)
			for i, b := range tc.Batches {
				var events []sample.Event
				if i%2 == 1 {
					events = []sample.Event{ev}
				}
				got := p.Feed(t, xformtest.Encode(t, b, events...))
				if i < len(tc.Want) && tc.Want[i] != nil {
					require.Equal(t, tc.Want[i], brief(got.Samples), "batch %d", i)
				}
				require.Len(t, got.Events, len(events))
			}
			p.SameCounters(t)
		})
	}
}

// The cache bounds (TestBounds) through both paths, with their clock.
func TestRawEquivalenceBounds(t *testing.T) {
	t.Parallel()
	clock := t0
	p := newPaths(t, "idle_expiry = \"10m\"\nmax_series = 2", &clock)
	feed := func(ss ...sample.Sample) { p.Feed(t, xformtest.Encode(t, ss)) }
	feed(smp("cpu", sample.Cumulative, 0, "a", 0, nil), smp("cpu", sample.Cumulative, 0, "b", 0, nil))
	clock = clock.Add(5 * time.Minute)
	feed(smp("cpu", sample.Cumulative, 10, "a", 10, nil))
	feed(smp("cpu", sample.Cumulative, 0, "c", 0, nil))
	feed(smp("cpu", sample.Cumulative, 10, "b", 10, nil))
	clock = clock.Add(11 * time.Minute)
	feed(smp("cpu", sample.Cumulative, 20, "a", 20, nil), smp("cpu", sample.Cumulative, 20, "c", 20, nil))
	feed(smp("cpu", sample.Cumulative, 30, "a", 30, nil))
	p.SameCounters(t)
	require.Equal(t, uint64(2), p.Raw.(*rate).Counters()["series_expired"])
}

// A malformed batch is refused whole by both paths, before any state
// changes: the samples before the bad one are not taken.
func TestRawRefusesMalformed(t *testing.T) {
	t.Parallel()
	clock := t0
	p := newPaths(t, cpuUtil, &clock)
	good := xformtest.Encode(t, []sample.Sample{smp("cpu", sample.Cumulative, 0, "r1", 0, nil)})
	bad := append(append([]byte(nil), good...), 0x0a, 0x03, 0x0a, 0x01, 0xff) // a name that is not UTF-8
	require.Empty(t, p.Feed(t, bad).Samples)
	p.SameCounters(t)
	require.Zero(t, p.Raw.(*rate).Counters()["first_sample"])
}

var fuzzConfigs = []string{
	cpuUtil + "max = 100\n",
	"meters = [\"cpu\", \"disk.*\"]\nunmatched = \"drop\"\nscale = \"100.0 / (10**9 * resource_metadata.cpu_number)\"",
	"map_from = \"(.*)\"\nmap_to = \"$1.rate\"\nunit_map_from = \"ns\"\nunit_map_to = \"\"",
	"meters = [\"!memory\"]\ntype = \"delta\"",
}

// FuzzTransformRaw: TransformRaw and Transform give the same outputs and
// counters for any sequence of batches (xformtest.FuzzFeed: generated, or
// encoded as they come, malformed ones included). The first byte's upper
// bits pick the config.
func FuzzTransformRaw(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xff, 11, 12, 13, 14, 15})
	f.Add([]byte{2, 0x41, 0, 1, 1, 0, 0x41, 1, 5, 1, 0xff, 0x41, 3, 2, 2, 1})
	for _, tc := range transformCases() {
		f.Add(xformtest.FuzzSeed(f, tc.Batches))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		clock := t0
		p := newPaths(t, fuzzConfigs[int(data[0]>>1)%len(fuzzConfigs)], &clock)
		xformtest.FuzzFeed(t, p, data, &clock)
	})
}

// rawCodec sends and receives the test's messages as bytes, to see what the
// plugin's server wrote.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

var _ encoding.CodecV2 = rawCodec{}

// TestRawPathOverGRPC: the plugin's server takes TransformRaw. A sample
// the transformer passes on comes back as the very bytes it was sent as,
// its fields in the order sent (the decode path would write them in field
// order, its metadata in a map's order).
func TestRawPathOverGRPC(t *testing.T) {
	t.Parallel()
	s := spec()
	p := sdktest.Start(t, s.Info(), s.Register())
	require.False(t, p.Configure(t, cpuUtil).HasErrors())
	var rec []byte
	for i := 20; i > 0; i-- { // metadata backwards, then the other fields backwards
		rec = protowire.AppendString(protowire.AppendTag(rec, 12, protowire.BytesType), fmt.Sprintf("k%02d", i))
		rec = protowire.AppendString(protowire.AppendTag(rec, 13, protowire.BytesType), "v")
	}
	rec = binary.LittleEndian.AppendUint64(protowire.AppendTag(rec, 4, protowire.Fixed64Type), math.Float64bits(7))
	rec = protowire.AppendString(protowire.AppendTag(rec, 5, protowire.BytesType), "r1")
	rec = protowire.AppendString(protowire.AppendTag(rec, 1, protowire.BytesType), "memory")
	var batch []byte
	batch = protowire.AppendBytes(protowire.AppendTag(batch, 1, protowire.BytesType), rec)
	req := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), batch)
	var resp []byte
	err := p.Conn.Invoke(context.Background(), pb.Transformer_Transform_FullMethodName, &req, &resp, grpc.ForceCodecV2(rawCodec{}))
	require.NoError(t, err)
	require.Equal(t, req, resp, "a passed sample comes back as sent")
}
