package chunk

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func roundTrip(t testing.TB, in []Sample) []byte {
	t.Helper()
	b, err := Encode(in)
	require.NoError(t, err)
	n, err := Count(b)
	require.NoError(t, err)
	require.Equal(t, len(in), n)
	out, err := Decode(b)
	require.NoError(t, err)
	require.Len(t, out, len(in))
	for i := range in {
		// Compare float bits so NaN and -0 round-trip exactly.
		require.Equal(t, math.Float64bits(in[i].V), math.Float64bits(out[i].V), "sample %d", i)
		out[i].V = in[i].V
	}
	if diff := cmp.Diff(in, out, cmp.Comparer(func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b)
	})); diff != "" {
		t.Fatalf("round trip mismatch (-in +out):\n%s", diff)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	const uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
	cases := map[string][]Sample{
		"one":      {{T: 1_700_000_000_000_000, V: 42.5, Recorded: 1_700_000_000_100_000}},
		"regular":  regular(500, 60_000_000, func(i int) float64 { return float64(i % 7) }),
		"constant": regular(100, 1_000_000, func(int) float64 { return 3 }),
		"random": regular(300, 10_000_000, func(i int) float64 {
			return rand.New(rand.NewPCG(uint64(i), 1)).NormFloat64() * 1e6
		}),
		"specials": {
			{T: -5, V: math.NaN()}, {T: -5, V: math.Inf(1)}, {T: 0, V: math.Copysign(0, -1)},
			{T: 1, V: math.MaxFloat64}, {T: 2, V: math.SmallestNonzeroFloat64}, {T: 3, V: -1},
		},
		"extreme times": {
			{T: math.MinInt64 / 2, Recorded: math.MaxInt64}, {T: 0, Recorded: math.MinInt64},
			{T: math.MaxInt64 / 2, Recorded: 7},
		},
		"message ids": {
			{T: 10, V: 1, MessageID: uuid}, {T: 10, V: 1, MessageID: ""},
			{T: 11, V: 2, MessageID: "0F8FAD5B-D9CB-469F-A165-70867728950E"}, // not canonical: raw
			{T: 12, V: 3, MessageID: "x"},
			{T: 13, V: 4, MessageID: string(make([]byte, 300))},
			{T: 14, V: 5, MessageID: "0f8fad5b-d9cb-469f-a165-70867728950g"},
		},
		"jittery":        jittery(400),
		"decimals":       regular(300, 60_000_000, func(i int) float64 { return float64(i*7%1000-500) / 100 }),
		"mixed decimals": regular(50, 1, func(i int) float64 { return []float64{0.1, 0.25, 3, 1e9 + 0.001, -7.5}[i%5] }),
		"big ints":       regular(50, 1, func(i int) float64 { return float64(int64(1)<<52 + int64(i)) }),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			roundTrip(t, in)
		})
	}
}

func regular(n int, step int64, v func(int) float64) []Sample {
	out := make([]Sample, n)
	for i := range out {
		t := 1_700_000_000_000_000 + int64(i)*step
		out[i] = Sample{T: t, V: v(i), Recorded: t + 2_000}
	}
	return out
}

func jittery(n int) []Sample {
	r := rand.New(rand.NewPCG(7, 7))
	out := make([]Sample, n)
	t := int64(1_700_000_000_000_000)
	for i := range out {
		t += 60_000_000 + r.Int64N(2_000_000) - 1_000_000
		out[i] = Sample{T: t, V: math.Round(r.Float64()*10000) / 100, Recorded: t + r.Int64N(5_000_000)}
	}
	return out
}

func TestCompression(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      []Sample
		maxBits float64 // per sample
	}{
		// Regular timestamps, constant value, constant record lag: 1 bit each
		// for time, value, record time and message id.
		{"constant", regular(1000, 60_000_000, func(int) float64 { return 5 }), 4.5},
		{"small ints", regular(1000, 60_000_000, func(i int) float64 { return float64(i % 16) }), 13},
		// A random walk with two decimals: deltas of cents, not XORs.
		{"cents", func() []Sample {
			r := rand.New(rand.NewPCG(9, 9))
			x := 5000
			return regular(1000, 60_000_000, func(int) float64 { x += r.IntN(201) - 100; return float64(x) / 100 })
		}(), 16},
		{"uuid ids", func() []Sample {
			s := regular(100, 1, func(int) float64 { return 1 })
			for i := range s {
				s[i].MessageID = "0f8fad5b-d9cb-469f-a165-70867728950e"
			}
			return s
		}(), 4 + 2 + 128 + 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := roundTrip(t, c.in)
			got := float64(len(b)*8) / float64(len(c.in))
			require.LessOrEqual(t, got, c.maxBits)
		})
	}
}

func TestAppendErrors(t *testing.T) {
	t.Parallel()
	dec := Encoder{mode: 3}
	require.Error(t, dec.Append(Sample{T: 1, V: 0.001}))
	var e Encoder
	require.NoError(t, e.Append(Sample{T: 10}))
	require.ErrorIs(t, e.Append(Sample{T: 9}), ErrOutOfOrder)
	require.Error(t, e.Append(Sample{T: 11, MessageID: string(make([]byte, MaxMessageID+1))}))
	var f Encoder
	require.NoError(t, f.Append(Sample{T: math.MinInt64}))
	require.Error(t, f.Append(Sample{T: math.MaxInt64}))
	require.Equal(t, 1, e.Len())
}

func TestCorrupt(t *testing.T) {
	t.Parallel()
	good, err := Encode(jittery(50))
	require.NoError(t, err)
	for _, b := range [][]byte{nil, {}, {2, 1, 0}, {version}, {version, 0xff}, good[:len(good)/2], good[:3]} {
		_, err := Decode(b)
		require.ErrorIs(t, err, ErrCorrupt, "%x", b)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte("0f8fad5b-d9cb-469f-a165-70867728950e and some more bytes for values"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := rand.New(rand.NewPCG(uint64(len(data)), 3))
		var in []Sample
		var ts int64
		for len(data) >= 3 {
			op := data[0]
			ts += int64(data[1]) * (1 + int64(op%5)*1000)
			s := Sample{T: ts, Recorded: ts + int64(data[2])<<uint(op%40)}
			switch op % 4 {
			case 0:
				s.V = float64(data[2])
			case 1:
				s.V = math.Float64frombits(r.Uint64())
			case 2:
				s.V = float64(int(data[1])-128) / 8
			}
			switch op % 3 {
			case 1:
				s.MessageID = FormatUUID([16]byte{data[1], data[2], op})
			case 2:
				s.MessageID = string(data[:1+int(op)%len(data)])
			}
			in = append(in, s)
			data = data[3:]
		}
		if len(in) > 0 {
			roundTrip(t, in)
		}
	})
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(jittery(5))
	f.Add(good)
	f.Add([]byte{version, 3, 0xff, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Decode(b) // must not panic
		if err == nil {
			n, _ := Count(b)
			require.Len(t, out, n)
		}
	})
}

// BenchmarkIterate decodes a two-hour chunk of one sample a minute, as a
// query over many series does for each: XOR-coded (random-walk floats) and
// decimal-coded values.
func BenchmarkIterate(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	v := 50.0
	chunks := map[string][]Sample{
		"xor":     regular(120, 60_000_000, func(int) float64 { v += rng.NormFloat64(); return v }),
		"decimal": regular(120, 60_000_000, func(i int) float64 { return float64(rng.IntN(1000)) / 10 }),
	}
	for name, in := range chunks {
		enc, err := Encode(in)
		require.NoError(b, err)
		b.Run(name, func(b *testing.B) {
			var it Iterator
			for range b.N {
				_ = it.Reset(enc)
				for it.Next() {
				}
				if it.Err() != nil {
					b.Fatal(it.Err())
				}
			}
		})
	}
}
