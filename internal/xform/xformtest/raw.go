package xformtest

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/transformer"
	"github.com/altimeter/altimeter/sdk/wire"
)

// Paths is two instances of one transformer (same spec and config) fed
// the same batches: Decode through the SDK's decode path (Decoder.Samples,
// Transform, AppendBatch with the events as they came: what the SDK does
// for a transformer without TransformRaw), Raw through TransformRaw.
type Paths struct {
	Decode, Raw transformer.Transformer
}

// Feed gives both the encoded batch data and checks that they give the
// same: the same output batch, decoded (samples in the same order, the
// same events), or both an error wrapping wire.ErrMalformed. It returns
// the decoded output (the zero batch on an error).
func (p Paths) Feed(t testing.TB, data []byte) sample.Batch {
	t.Helper()
	raw, ok := p.Raw.(transformer.RawTransformer)
	require.True(t, ok, "%T has no TransformRaw", p.Raw)
	rawOut, rawErr := raw.TransformRaw(t.Context(), data, nil)
	ss, events, decErr := (&wire.Decoder{}).Samples(data, nil, nil)
	if decErr != nil || rawErr != nil {
		require.ErrorIs(t, decErr, wire.ErrMalformed, "decode path (raw path: %v)", rawErr)
		require.ErrorIs(t, rawErr, wire.ErrMalformed, "raw path (decode path: %v)", decErr)
		return sample.Batch{}
	}
	out, err := p.Decode.Transform(t.Context(), ss)
	require.NoError(t, err)
	decOut, err := wire.AppendBatch(nil, &sample.Batch{Samples: out})
	require.NoError(t, err)
	decOut = append(decOut, events...)
	var want, got sample.Batch
	require.NoError(t, (&wire.Decoder{}).Batch(decOut, &want))
	require.NoError(t, (&wire.Decoder{}).Batch(rawOut, &got), "the raw path's output decodes")
	SameBatch(t, want, got)
	return got
}

// SameCounters checks that both report the same counters.
func (p Paths) SameCounters(t testing.TB) {
	t.Helper()
	d, ok1 := p.Decode.(base.CounterReporter)
	r, ok2 := p.Raw.(base.CounterReporter)
	require.Equal(t, ok1, ok2)
	if ok1 {
		require.Equal(t, d.Counters(), r.Counters())
	}
}

// SameBatch compares two decoded batches, NaN volumes included.
func SameBatch(t testing.TB, want, got sample.Batch) {
	t.Helper()
	require.Len(t, got.Samples, len(want.Samples), "samples")
	w := append([]sample.Sample(nil), want.Samples...)
	g := append([]sample.Sample(nil), got.Samples...)
	for i := range w {
		if math.Float64bits(w[i].Volume) != math.Float64bits(g[i].Volume) {
			t.Fatalf("sample %d: volume %v, want %v", i, g[i].Volume, w[i].Volume)
		}
		w[i].Volume, g[i].Volume = 0, 0
	}
	require.Equal(t, w, g)
	require.Equal(t, want.Events, got.Events)
	require.Equal(t, want.Notifications, got.Notifications)
}

// Encode encodes a batch of samples, as the host sends it.
func Encode(t testing.TB, ss []sample.Sample, events ...sample.Event) []byte {
	t.Helper()
	data, err := wire.AppendBatch(nil, &sample.Batch{Samples: ss, Events: events})
	require.NoError(t, err)
	return data
}

// gen makes samples from fuzz bytes: few names, resources, times and ids,
// so that series, redeliveries, equal and older timestamps and resets all
// happen.
type gen struct{ data []byte }

func (g *gen) byte() byte {
	if len(g.data) == 0 {
		return 0
	}
	b := g.data[0]
	g.data = g.data[1:]
	return b
}

func (g *gen) sample() sample.Sample {
	names := []string{"cpu", "cpu", "disk.read.bytes", "memory"}
	vols := []float64{0, 1e9, 2e9, 5e9, -1, math.NaN(), math.Inf(1), math.Copysign(0, -1), 1e300}
	ids := []string{"", "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002", "not-a-uuid"}
	mds := []map[string]string{nil, {"cpu_number": "2"}, {"cpu_number": "0"}, {"cpu_number": "four"}, {"cpu_number": ""}, {"cpu_number": "4", "host": "h"}}
	b := g.byte()
	s := sample.Sample{
		Name: names[b%4], Type: sample.Type(b >> 2 % 4), Unit: "ns", Volume: vols[int(g.byte())%len(vols)],
		ResourceID: fmt.Sprintf("r%d", b>>4%3), ProjectID: "p", Timestamp: T0.Add(time.Duration(g.byte()%8) * time.Second),
		MessageID: ids[b>>6], Metadata: mds[int(g.byte())%len(mds)],
	}
	if x := g.byte(); x%4 == 0 {
		s.MonotonicTime = time.Duration(x) * time.Second
	} else if x%4 == 1 {
		s.Signature = "sig"
	}
	return s
}

// FuzzFeed feeds p the batches fuzz data describes, advancing clock by a
// second after each. The low bit of data[0] says how the rest is read:
// 0, generated samples (a batch ends at a byte 0xff); 1, encoded batches
// as they are, each behind a one-byte length (malformed ones included).
// The other bits of data[0] are the caller's (a config, say). At the end
// the counters must agree.
func FuzzFeed(t *testing.T, p Paths, data []byte, clock *time.Time) {
	t.Helper()
	if len(data) == 0 {
		return
	}
	rest := data[1:]
	if data[0]&1 == 1 {
		for len(rest) > 0 {
			n := min(int(rest[0]), len(rest)-1)
			p.Feed(t, rest[1:1+n])
			rest = rest[1+n:]
			*clock = clock.Add(time.Second)
		}
	} else {
		g := &gen{data: rest}
		for len(g.data) > 0 {
			var batch []sample.Sample
			for len(g.data) > 0 && g.data[0] != 0xff {
				batch = append(batch, g.sample())
			}
			g.byte()
			p.Feed(t, Encode(t, batch))
			*clock = clock.Add(time.Second)
		}
	}
	p.SameCounters(t)
}

// FuzzSeed is a FuzzFeed input of encoded batches (those under 256 bytes).
func FuzzSeed(tb testing.TB, batches [][]sample.Sample) []byte {
	seed := []byte{1}
	for _, b := range batches {
		if data := Encode(tb, b); len(data) < 256 {
			seed = append(append(seed, byte(len(data))), data...)
		}
	}
	return seed
}
