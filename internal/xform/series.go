package xform

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

// Prev is what a series remembers of its last accepted sample, and what
// that sample gave.
type Prev struct {
	Volume float64
	TS     int64 // unix nanoseconds
	Mono   int64 // monotonic time in nanoseconds; 0 when unset
	id     uint64
	// Out is the volume the sample gave, if HasOut.
	Out    float64
	HasOut bool
}

// Record notes that the accepted sample gave v.
func (p *Prev) Record(v float64) { p.Out, p.HasOut = v, true }

// Step is what Series.Step found.
type Step uint8

const (
	// First: the series was unknown (new, expired, evicted, or the process
	// restarted); the sample is now its state and gives nothing.
	First Step = iota
	// Again: the sample is the one that set the state (same message id
	// and timestamp), delivered again; Prev says what it gave.
	Again
	// Next: Prev is the previous sample; the caller decides and, if it
	// accepts the sample, calls Accept.
	Next
)

// Series is the previous-sample state of rate_of_change and delta: one
// Prev per series (name and resource, as Ceilometer keyed its cache), in a
// bounded Cache. A series is known by two independent 64-bit hashes of its
// name and resource rather than by the strings: the index is a map of
// integers, an entry holds no string, and two series are confused only if
// both hashes collide (about one chance in 10^29 among 100,000 series).
type Series struct {
	Cache  *Cache[uint64, seriesEntry]
	raw    rawScratch
	names  map[string][2]uint64
	seedA  maphash.Seed
	seedB  maphash.Seed
	seedID maphash.Seed
}

// rawScratch is TransformRaw's storage, reused from batch to batch.
type rawScratch struct {
	batch wire.BatchView
	meta  map[string]string
}

type seriesEntry struct {
	check uint64 // the second hash
	prev  Prev
}

// Bounds of the idle_expiry and max_series attributes.
const (
	maxIdle        = 30 * 24 * time.Hour
	maxSeriesLimit = 10_000_000
)

// SeriesFromConfig checks the idle_expiry and max_series attributes and
// returns the state they bound.
func SeriesFromConfig(idleExpiry string, maxSeries int) (*Series, error) {
	idle, err := Duration("idle_expiry", idleExpiry, time.Second, maxIdle)
	if cerr := Count("max_series", maxSeries, 1, maxSeriesLimit); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil {
		return nil, err
	}
	return NewSeries(idle, maxSeries), nil
}

// NewSeries returns an empty state bounded by idle and maxSeries.
func NewSeries(idle time.Duration, maxSeries int) *Series {
	return &Series{
		Cache: NewCache[uint64, seriesEntry](idle, maxSeries), names: map[string][2]uint64{},
		seedA: maphash.MakeSeed(), seedB: maphash.MakeSeed(), seedID: maphash.MakeSeed(),
	}
}

// keys hashes s's series.
func (ss *Series) keys(s *sample.Sample) (uint64, uint64) {
	n, ok := ss.names[s.Name]
	if !ok {
		n = [2]uint64{maphash.String(ss.seedA, s.Name), maphash.String(ss.seedB, s.Name)}
		if len(ss.names) < maxCache {
			ss.names[strings.Clone(s.Name)] = n // s.Name may alias a batch's bytes
		}
	}
	// The name's hash is mixed in with a multiply, so that (a, b) and
	// (b, a) differ.
	return maphash.String(ss.seedA, s.ResourceID) ^ n[0]*0x9e3779b97f4a7c15,
		maphash.String(ss.seedB, s.ResourceID) ^ n[1]*0xc2b2ae3d27d4eb4f
}

// Step looks s's series up at now. The pointer is valid until the next
// Step.
func (ss *Series) Step(s *sample.Sample, now time.Time) (*Prev, Step) {
	key, check := ss.keys(s)
	e := ss.Cache.Get(key, now)
	if e == nil || e.check != check {
		if e == nil {
			e = ss.Cache.Put(key, now)
		}
		e.check = check
		ss.Accept(&e.prev, s)
		return &e.prev, First
	}
	p := &e.prev
	if s.MessageID != "" && p.id == ss.hash(s.MessageID) && p.TS == s.Timestamp.UnixNano() {
		return p, Again
	}
	return p, Next
}

// Accept makes s the series' state.
func (ss *Series) Accept(p *Prev, s *sample.Sample) {
	*p = Prev{Volume: s.Volume, TS: s.Timestamp.UnixNano(), Mono: int64(s.MonotonicTime)}
	if s.MessageID != "" {
		p.id = ss.hash(s.MessageID)
	}
}

func (ss *Series) hash(id string) uint64 { return maphash.String(ss.seedID, id) | 1 }

// The counters every series transformer reports first, in this order; its
// own follow.
const (
	CFirst = iota // first_sample: the series was unknown, no output
	CAgain        // redelivered: the sample that set the state, again
)

// SeriesCounters are the names of CFirst and CAgain.
var SeriesCounters = []string{"first_sample", "redelivered"}

// Transform is the Transform of a transformer that derives each sample from
// the previous one of its series (rate_of_change, delta), in place over in:
// a first sample gives nothing; a redelivered one gives what it gave the
// first time; otherwise next decides, from the sample and its series'
// previous state, the volume of the output (and counts what it drops in
// counts, indexed as r's counters), and derive makes the output. State and
// counters are updated here.
func (ss *Series) Transform(ctx context.Context, in []sample.Sample, sel *Selector, u Unmatched, r *Report, now time.Time,
	next func(s *sample.Sample, p *Prev, counts []uint64) (float64, bool),
	derive func(s *sample.Sample, v float64) sample.Sample,
) ([]sample.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	ss.Cache.Expire(now)
	counts := make([]uint64, len(r.names))
	out := Map(in, sel, u, func(s *sample.Sample) (sample.Sample, bool) {
		return ss.step(s, now, counts, next, derive)
	})
	for i, n := range counts {
		r.Add(i, n)
	}
	return out, nil
}

// step is one sample taken by Transform or TransformRaw.
func (ss *Series) step(s *sample.Sample, now time.Time, counts []uint64,
	next func(s *sample.Sample, p *Prev, counts []uint64) (float64, bool),
	derive func(s *sample.Sample, v float64) sample.Sample,
) (sample.Sample, bool) {
	p, step := ss.Step(s, now)
	switch step {
	case First:
		counts[CFirst]++
		return sample.Sample{}, false
	case Again:
		counts[CAgain]++
		if !p.HasOut {
			return sample.Sample{}, false
		}
		return derive(s, p.Out), true
	}
	v, ok := next(s, p, counts)
	if !ok {
		return sample.Sample{}, false
	}
	p.Record(v)
	return derive(s, v), true
}

// TransformRaw is Transform on an encoded batch (transformer.RawTransformer):
// the same samples taken, the same state and counters, the output appended
// to out encoded. in is read with a wire.BatchView, so a batch the decoder
// refuses is refused whole, before any state changes. next and derive see
// each sample as a wire.SampleView gives it: strings that alias in, valid
// during the call only, and as metadata only metaKeys (the keys next may
// read). An output keeps its input's metadata (derive's Metadata is not
// read), and events pass on as they came, after the samples, as the SDK's
// decode path sends them.
func (ss *Series) TransformRaw(ctx context.Context, in, out []byte, sel *Selector, u Unmatched, r *Report, now time.Time,
	metaKeys []string,
	next func(s *sample.Sample, p *Prev, counts []uint64) (float64, bool),
	derive func(s *sample.Sample, v float64) sample.Sample,
) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("transform: %w", err)
	}
	b := &ss.raw.batch
	if err := b.Parse(in); err != nil {
		return out, fmt.Errorf("transform: %w", err)
	}
	if ss.raw.meta == nil {
		ss.raw.meta = make(map[string]string, len(metaKeys))
	}
	defer clear(ss.raw.meta) // the views are overwritten by the next call
	ss.Cache.Expire(now)
	counts := make([]uint64, len(r.names))
	for i := range b.Samples {
		v := &b.Samples[i]
		if take, keep := route(sel, u, v.Sample.Name); !take {
			if keep {
				out = wire.AppendSample(out, v)
			}
			continue
		}
		v.LoadMeta(ss.raw.meta, metaKeys)
		d, ok := ss.step(&v.Sample, now, counts, next, derive)
		if !ok {
			continue
		}
		var err error
		if out, err = wire.AppendDerived(out, v, &d); err != nil {
			return out, fmt.Errorf("transform: encode sample %d: %w", i, err)
		}
	}
	out = append(out, b.Events...)
	for i, n := range counts {
		r.Add(i, n)
	}
	return out, nil
}

// Counters adds the cache's counters (series_expired, series_evicted) to m.
func (ss *Series) Counters(m map[string]uint64) map[string]uint64 {
	m["series_expired"] = ss.Cache.Expired()
	m["series_evicted"] = ss.Cache.Evicted()
	return m
}
