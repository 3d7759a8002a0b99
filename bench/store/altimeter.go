package main

import (
	"context"
	"strconv"
	"time"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/sdk/sample"
)

// altEngine is Altimeter's embedded store with its default policies
// ("medium": 1 min and 1 h roll-ups), written through Store.Write as the
// store publisher does.
type altEngine struct {
	s    *store.Store
	base []sample.Sample // per series: the fields that do not change
	buf  []sample.Sample
}

func openAltimeter(ctx context.Context, dir string, w *workload) (*altEngine, error) {
	o := store.Options{}
	o.Series.Sync = true
	o.Series.Policies = series.DefaultPolicies()
	o.Series.Rules = []series.Rule{{Pattern: "*", Policy: "medium"}}
	o.Series.OutOfOrder = time.Hour
	s, err := store.Open(ctx, dir, o)
	if err != nil {
		return nil, err
	}
	e := &altEngine{s: s, base: make([]sample.Sample, w.series())}
	types := []sample.Type{sample.Gauge, sample.Gauge, sample.Cumulative}
	units := []string{"%", "MB", "B"}
	for i := range e.base {
		r, m := w.split(i)
		e.base[i] = sample.Sample{
			Name: w.meters[m], Type: types[m], Unit: units[m],
			ResourceID: w.resource(r), ProjectID: w.project(r), UserID: w.user(r), Source: "bench",
			Metadata: map[string]string{"flavor.name": "m1.small", "host": "compute-" + strconv.Itoa(r%20)},
		}
	}
	return e, nil
}

func (e *altEngine) write(ctx context.Context, w *workload, batch []point) error {
	e.buf = e.buf[:0]
	for _, p := range batch {
		s := e.base[p.series]
		s.Volume = p.v
		s.Timestamp = time.UnixMicro(p.t)
		e.buf = append(e.buf, s)
	}
	return e.s.Write(ctx, e.buf)
}

func (e *altEngine) compact(*workload) error { return e.s.Compact(context.Background()) }
func (e *altEngine) close() error            { return e.s.Close() }

func (e *altEngine) stats(ctx context.Context, w *workload, f store.Filter) (int, error) {
	f.Meter = w.meters[0]
	f.Start, f.End = time.UnixMicro(w.t0), time.UnixMicro(w.qend())
	st, err := e.s.Statistics(ctx, store.StatsQuery{Filter: f, Period: time.Hour})
	return len(st), err
}

func (e *altEngine) q1(ctx context.Context, w *workload, r int) (int, error) {
	return e.stats(ctx, w, store.Filter{ResourceID: w.resource(r)})
}

func (e *altEngine) q2(ctx context.Context, w *workload, p int) (int, error) {
	return e.stats(ctx, w, store.Filter{ProjectID: "project-" + strconv.Itoa(p)})
}

func (e *altEngine) q3(ctx context.Context, w *workload) (int, error) {
	return e.stats(ctx, w, store.Filter{})
}

func (e *altEngine) q4(ctx context.Context, w *workload, r int) (int, error) {
	s, err := e.s.Samples(ctx, store.Filter{ResourceID: w.resource(r)}, store.ListOptions{Limit: 100})
	return len(s), err
}
