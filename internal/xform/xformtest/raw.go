package xformtest

import (
	"math"
	"testing"

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
