package main

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"strconv"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// tsdbEngine is the baseline: the Prometheus TSDB library, one series per
// (resource, meter), labels for project and user.
type tsdbEngine struct {
	db   *tsdb.DB
	refs map[int]storage.SeriesRef
	lset []labels.Labels
}

func openTSDB(dir string) (*tsdbEngine, error) {
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = 0
	db, err := tsdb.Open(dir, slog.New(slog.DiscardHandler), nil, opts, nil)
	if err != nil {
		return nil, err
	}
	return &tsdbEngine{db: db, refs: map[int]storage.SeriesRef{}}, nil
}

func (e *tsdbEngine) labelsOf(w *workload, s int) labels.Labels {
	for len(e.lset) <= s {
		e.lset = append(e.lset, labels.EmptyLabels())
	}
	if e.lset[s].IsEmpty() {
		r, m := w.split(s)
		e.lset[s] = labels.FromStrings("__name__", w.meters[m], "resource", w.resource(r), "project", w.project(r), "user", w.user(r))
	}
	return e.lset[s]
}

func (e *tsdbEngine) write(ctx context.Context, w *workload, batch []point) error {
	app := e.db.Appender(ctx)
	for _, p := range batch {
		ref, err := app.Append(e.refs[p.series], e.labelsOf(w, p.series), p.t/1000, p.v)
		if err != nil {
			_ = app.Rollback()
			return err
		}
		e.refs[p.series] = ref
	}
	return app.Commit()
}

func (e *tsdbEngine) compact(w *workload) error {
	return e.db.CompactHead(tsdb.NewRangeHead(e.db.Head(), w.t0/1000, w.end()/1000))
}

func (e *tsdbEngine) close() error { return e.db.Close() }

// stats aggregates the selected series into period buckets, as a
// statistics query over the TSDB would have to.
func (e *tsdbEngine) stats(ctx context.Context, w *workload, ms []*labels.Matcher, start, end, period int64) (int, error) {
	q, err := e.db.Querier(start/1000, end/1000-1)
	if err != nil {
		return 0, err
	}
	defer q.Close()
	type agg struct{ n, sum, min, max float64 }
	buckets := map[int64]*agg{}
	ss := q.Select(ctx, false, nil, ms...)
	var it chunkenc.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			t, v := it.At()
			b := (t*1000 - start) / period
			a := buckets[b]
			if a == nil {
				a = &agg{min: math.Inf(1), max: math.Inf(-1)}
				buckets[b] = a
			}
			a.n++
			a.sum += v
			a.min = math.Min(a.min, v)
			a.max = math.Max(a.max, v)
		}
	}
	return len(buckets), ss.Err()
}

// last returns the newest n samples of one resource over all its meters.
func (e *tsdbEngine) last(ctx context.Context, w *workload, r, n int) (int, error) {
	q, err := e.db.Querier(w.t0/1000, w.end()/1000)
	if err != nil {
		return 0, err
	}
	defer q.Close()
	ss := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, "resource", w.resource(r)))
	var ts []int64
	var it chunkenc.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			t, _ := it.At()
			ts = append(ts, t)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] > ts[j] })
	if len(ts) > n {
		ts = ts[:n]
	}
	return len(ts), ss.Err()
}

func (e *tsdbEngine) q1(ctx context.Context, w *workload, r int) (int, error) {
	return e.stats(ctx, w, []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, "__name__", w.meters[0]),
		labels.MustNewMatcher(labels.MatchEqual, "resource", w.resource(r)),
	}, w.t0, w.qend(), 3600e6)
}

func (e *tsdbEngine) q2(ctx context.Context, w *workload, p int) (int, error) {
	return e.stats(ctx, w, []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, "__name__", w.meters[0]),
		labels.MustNewMatcher(labels.MatchEqual, "project", "project-"+strconv.Itoa(p)),
	}, w.t0, w.qend(), 3600e6)
}

func (e *tsdbEngine) q3(ctx context.Context, w *workload) (int, error) {
	return e.stats(ctx, w, []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, "__name__", w.meters[0]),
	}, w.t0, w.qend(), 3600e6)
}

func (e *tsdbEngine) q4(ctx context.Context, w *workload, r int) (int, error) {
	return e.last(ctx, w, r, 100)
}
