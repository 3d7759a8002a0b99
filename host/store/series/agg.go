package series

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// Agg is an aggregate of samples: mergeable, so roll-ups of any scope and
// granularity combine into coarser ones. Mean is Sum/Count and the
// population standard deviation derives from SumSq (see Mean, StdDev).
type Agg struct {
	Count         int64
	Sum, Min, Max float64
	SumSq         float64
	FirstT, LastT int64
	Last          float64            // value at LastT (the largest one on ties)
	Pct           map[string]float64 // percentiles the policy lists, from raw samples only
}

// Add adds one sample.
func (a *Agg) Add(t int64, v float64) {
	a.Merge(Agg{Count: 1, Sum: v, Min: v, Max: v, SumSq: v * v, FirstT: t, LastT: t, Last: v})
}

// Merge adds the samples aggregated in b (Pct is not merged).
func (a *Agg) Merge(b Agg) {
	if b.Count == 0 {
		return
	}
	if a.Count == 0 {
		pct := a.Pct
		*a = b
		a.Pct = pct
		return
	}
	a.Count += b.Count
	a.Sum += b.Sum
	a.SumSq += b.SumSq
	a.Min = min(a.Min, b.Min)
	a.Max = max(a.Max, b.Max)
	a.FirstT = min(a.FirstT, b.FirstT)
	if b.LastT > a.LastT || (b.LastT == a.LastT && b.Last > a.Last) {
		a.LastT, a.Last = b.LastT, b.Last
	}
}

// Mean returns Sum/Count (NaN when empty).
func (a Agg) Mean() float64 {
	if a.Count == 0 {
		return math.NaN()
	}
	return a.Sum / float64(a.Count)
}

// StdDev returns the population standard deviation (0 for one sample).
func (a Agg) StdDev() float64 {
	if a.Count == 0 {
		return math.NaN()
	}
	m := a.Sum / float64(a.Count)
	v := a.SumSq/float64(a.Count) - m*m
	if v < 0 {
		return 0
	}
	return math.Sqrt(v)
}

const aggSize = 8 * 8

func (a *Agg) encode(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(a.Count))
	for _, f := range [...]float64{a.Sum, a.Min, a.Max, a.SumSq, a.Last} {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(f))
	}
	b = binary.BigEndian.AppendUint64(b, uint64(a.FirstT))
	return binary.BigEndian.AppendUint64(b, uint64(a.LastT))
}

func decodeAgg(b []byte) (Agg, error) {
	if len(b) != aggSize {
		return Agg{}, fmt.Errorf("decode roll-up of %d bytes: %w", len(b), errCorrupt)
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(b[8*i:]) }
	f := func(i int) float64 { return math.Float64frombits(u(i)) }
	return Agg{Count: int64(u(0)), Sum: f(1), Min: f(2), Max: f(3), SumSq: f(4), Last: f(5),
		FirstT: int64(u(6)), LastT: int64(u(7))}, nil
}

// aggMerger merges roll-up operands; Agg.Merge is associative and
// commutative, so operand order does not matter.
var aggMerger = &pebble.Merger{
	Name: "altimeter.series.agg.v1",
	Merge: func(_, value []byte) (pebble.ValueMerger, error) {
		a, err := decodeAgg(value)
		if err != nil {
			return nil, err
		}
		return &aggValueMerger{a: a}, nil
	},
}

type aggValueMerger struct{ a Agg }

func (m *aggValueMerger) merge(v []byte) error {
	b, err := decodeAgg(v)
	if err != nil {
		return err
	}
	m.a.Merge(b)
	return nil
}

func (m *aggValueMerger) MergeNewer(v []byte) error { return m.merge(v) }
func (m *aggValueMerger) MergeOlder(v []byte) error { return m.merge(v) }
func (m *aggValueMerger) Finish(bool) ([]byte, io.Closer, error) {
	return m.a.encode(make([]byte, 0, aggSize)), nil, nil
}
