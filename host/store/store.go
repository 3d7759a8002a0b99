package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/host/store/disk"
	"github.com/altimeter/altimeter/host/store/index"
	"github.com/altimeter/altimeter/host/store/series"
	"github.com/altimeter/altimeter/sdk/sample"
)

// Options configure a Store.
type Options struct {
	// Series configures the time-series engine: archive policies, rules,
	// out-of-order window, fsync.
	Series series.Options
	// EventRetention is how long events are kept; 0 keeps them forever.
	EventRetention time.Duration
	// MinFree is the free space, in bytes, below which writes are refused
	// with ErrUnavailable (default DefaultMinFree). Unless Series sets its
	// own, the memtable is a quarter of it (at most 64 MiB), so that a
	// flush always fits in what is kept free.
	MinFree uint64
	Logger  hclog.Logger
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Store is the embedded store: a time-series engine for samples and an
// index for resources, metadata history and events, under one directory.
type Store struct {
	series *series.DB
	index  *index.DB
	guard  *disk.Guard
	log    hclog.Logger
	now    func() time.Time
	opts   Options
	stop   chan struct{}
	done   chan struct{}
	// claimMu serialises the project writes that create resources
	// (tenant.go), so that two projects naming one new resource at once
	// cannot both take it.
	claimMu sync.Mutex
	// notStored counts samples not stored, by reason (space.go).
	notStored *prometheus.CounterVec
}

var (
	_ Reader = (*Store)(nil)
	_ Writer = (*Store)(nil)
)

// Open opens (creating if needed) the store in dir: dir/series holds the
// Pebble time series, dir/index.db the SQLite index.
func Open(ctx context.Context, dir string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Series.Now == nil {
		o.Series.Now = o.Now
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	log := o.Logger.Named("store")
	if o.MinFree == 0 {
		o.MinFree = DefaultMinFree
	}
	guard := disk.NewGuard(dir, o.MinFree, log)
	if o.Series.Guard == nil {
		o.Series.Guard = guard
	}
	if o.Series.MemTableSize == 0 {
		o.Series.MemTableSize = int64(min(64<<20, max(1<<20, o.MinFree/4))) //nolint:gosec // at most 64 MiB
	}
	sdb, err := series.Open(filepath.Join(dir, "series"), o.Series, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	idb, err := index.Open(ctx, filepath.Join(dir, "index.db"), log.Named("index"))
	if err != nil {
		_ = sdb.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if !idb.SpansClean() {
		if err := idb.ExpandSpans(ctx, seriesSpans(sdb.SeriesList())); err != nil {
			_ = idb.Close()
			_ = sdb.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
		log.Debug("resource sample times widened from the time series")
	}
	s := &Store{series: sdb, index: idb, guard: guard, log: log, now: o.Now, opts: o, stop: make(chan struct{}), done: make(chan struct{}),
		notStored: newNotStored()}
	go s.expireEvents()
	return s, nil
}

// seriesSpans is, per resource, the times (unix nanoseconds) of the first
// and the last sample of the series in ss that hold samples: what the index
// widens its resource times to after a crash (index.DB.ExpandSpans).
func seriesSpans(ss []series.Info) map[string][2]int64 {
	out := make(map[string][2]int64)
	for _, in := range ss {
		if in.Count == 0 {
			continue
		}
		f, l := in.First*int64(time.Microsecond), in.Last*int64(time.Microsecond)
		if s, ok := out[in.Key.ResourceID]; ok {
			f, l = min(f, s[0]), max(l, s[1])
		}
		out[in.Key.ResourceID] = [2]int64{f, l}
	}
	return out
}

// keepResources is how long a resource stays in the index after its last
// sample: as long as any policy keeps anything of it (raw samples or the
// longest archive).
func keepResources(o *series.Options) time.Duration {
	pols := o.Policies
	if len(pols) == 0 {
		pols = series.DefaultPolicies()
	}
	var keep time.Duration
	for _, p := range pols {
		keep = max(keep, p.RawRetention)
		for _, a := range p.Archives {
			keep = max(keep, a.Granularity*time.Duration(a.Points))
		}
	}
	return keep
}

// expireEvents applies EventRetention, and removes resources no policy
// keeps anything of, hourly (the time series apply their own retention).
func (s *Store) expireEvents() {
	defer close(s.done)
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	keep := keepResources(&s.opts.Series)
	for {
		ctx := context.Background()
		if s.opts.EventRetention > 0 {
			n, err := s.index.ExpireEvents(ctx, s.now().Add(-s.opts.EventRetention))
			if err != nil {
				s.log.Warn("expire events", "error", err)
			} else if n > 0 {
				s.log.Debug("events expired", "count", n)
			}
		}
		if keep > 0 {
			n, err := s.index.ExpireResources(ctx, s.now().Add(-keep))
			if err != nil {
				s.log.Warn("expire resources", "error", err)
			} else if n > 0 {
				s.log.Debug("resources expired", "count", n)
			}
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// Close closes both engines. Safe to call on a nil Store.
func (s *Store) Close() error {
	if s == nil {
		return nil
	}
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	return errors.Join(s.series.Close(), s.index.Close())
}

// Write stores samples: the time series first (durable, deduplicated by
// message_id, or by series and timestamp for samples without one), then the
// resource index. The index update is idempotent and done for duplicates
// too, so a batch redelivered after a failed index update repairs it.
func (s *Store) Write(ctx context.Context, samples []sample.Sample) error {
	_, err := s.write(ctx, samples)
	return err
}

// write is Write, returning what the time series did with each sample.
func (s *Store) write(ctx context.Context, samples []sample.Sample) (series.WriteResult, error) {
	var none series.WriteResult
	if len(samples) == 0 {
		return none, nil
	}
	if err := s.guard.Check(); err != nil {
		return none, fmt.Errorf("write samples: %w: %w", ErrUnavailable, err)
	}
	rec := s.now().UnixMicro()
	wb := getWriteBufs(len(samples))
	defer wb.put()
	in, ups := wb.in, wb.ups
	for i := range samples {
		sm := &samples[i]
		if err := Validate(sm); err != nil {
			return none, fmt.Errorf("write sample %d: %w", i, err)
		}
		k := keyOf(sm)
		in[i] = series.Input{Key: k, T: sm.Timestamp.UnixMicro(), V: sm.Volume, MessageID: sm.MessageID, Recorded: rec}
		ups[i] = index.ResourceUpdate{
			ResourceID: sm.ResourceID, ProjectID: sm.ProjectID, UserID: sm.UserID, Source: sm.Source,
			Meter: sm.Name, Type: k.Type, Unit: sm.Unit, T: sm.Timestamp.Truncate(time.Microsecond), Metadata: sm.Metadata,
		}
	}
	res, err := s.series.Write(ctx, in)
	if err != nil {
		return none, fmt.Errorf("write samples: %w", s.writeErr(err))
	}
	if res.TooOld > 0 {
		s.notStored.WithLabelValues("too_old").Add(float64(res.TooOld))
		s.log.Debug("samples older than the out-of-order window skipped", "count", res.TooOld)
	}
	if err := s.index.Upsert(ctx, ups); err != nil {
		return none, fmt.Errorf("index resources: %w", s.writeErr(err))
	}
	return res, nil
}

// writeBufs are the per-call inputs of the two engines, reused across
// Writes: neither engine keeps them after returning.
type writeBufs struct {
	in  []series.Input
	ups []index.ResourceUpdate
}

var writeBufPool = sync.Pool{New: func() any { return new(writeBufs) }}

func getWriteBufs(n int) *writeBufs {
	wb := writeBufPool.Get().(*writeBufs)
	if cap(wb.in) < n {
		wb.in = make([]series.Input, n)
		wb.ups = make([]index.ResourceUpdate, n)
	}
	wb.in, wb.ups = wb.in[:n], wb.ups[:n]
	return wb
}

// put clears the buffers (they hold the callers' strings and maps) and
// returns them to the pool; very large ones are left to the collector.
func (wb *writeBufs) put() {
	clear(wb.in)
	clear(wb.ups)
	if cap(wb.in) <= 1<<16 {
		writeBufPool.Put(wb)
	}
}

// Validate rejects a sample the store cannot key; the error wraps
// ErrInvalid.
func Validate(sm *sample.Sample) error {
	switch {
	case sm.Name == "":
		return fmt.Errorf("%w: meter name is empty", ErrInvalid)
	case sm.ResourceID == "":
		return fmt.Errorf("%w: meter %s: resource_id is empty", ErrInvalid, sm.Name)
	case CheckTime(sm.Timestamp) != nil:
		return fmt.Errorf("meter %s: timestamp: %w", sm.Name, CheckTime(sm.Timestamp))
	case math.IsNaN(sm.Volume) || math.IsInf(sm.Volume, 0):
		return fmt.Errorf("%w: meter %s: volume %v is not a finite number", ErrInvalid, sm.Name, sm.Volume)
	case len(sm.MessageID) > series.MaxMessageID:
		return fmt.Errorf("%w: meter %s: message_id longer than %d bytes", ErrInvalid, sm.Name, series.MaxMessageID)
	case sm.Type != sample.TypeUnspecified && sm.Type != sample.Gauge && sm.Type != sample.Delta && sm.Type != sample.Cumulative:
		return fmt.Errorf("%w: meter %s: unknown type %d", ErrInvalid, sm.Name, sm.Type)
	}
	return nil
}

// The timestamps the store holds: from MinTime (the Unix epoch) to just
// before MaxTime. The time series hold microseconds since the epoch; the
// index holds Unix nanoseconds, which end in 2262, so MaxTime is the
// index's bound and a sample the index cannot hold is refused before
// either engine writes anything.
var (
	MinTime = time.Unix(0, 0).UTC()
	MaxTime = index.MaxTime
)

// CheckTime refuses (ErrInvalid) a timestamp outside [MinTime, MaxTime),
// Go's zero time included.
func CheckTime(t time.Time) error {
	if t.Before(MinTime) || !t.Before(MaxTime) {
		return fmt.Errorf("%w: %s is outside %s..%s (exclusive), the range the store holds",
			ErrInvalid, t.UTC().Format(time.RFC3339Nano), MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339))
	}
	return nil
}

// KeptSince is the oldest timestamp of meter whose raw sample the store
// keeps now: an older sample would be removed by the next retention pass
// (its roll-ups only would remain), so the API refuses it.
func (s *Store) KeptSince(meter string) time.Time {
	return s.now().Add(-s.series.RawRetention(meter)).UTC()
}

func keyOf(sm *sample.Sample) series.Key {
	t := sm.Type
	if t == sample.TypeUnspecified {
		t = sample.Gauge
	}
	return series.Key{
		Meter: sm.Name, Type: t.String(), Unit: sm.Unit, ResourceID: sm.ResourceID,
		ProjectID: sm.ProjectID, UserID: sm.UserID, Source: sm.Source,
	}
}

// Retain applies retention now: expired samples and roll-ups per archive
// policy, events older than EventRetention, and resources whose last sample
// is older than the longest raw retention. The engines also apply it
// continuously.
func (s *Store) Retain(ctx context.Context) error {
	var errs []error
	if err := s.series.Retain(ctx); err != nil {
		errs = append(errs, err)
	}
	if s.opts.EventRetention > 0 {
		if _, err := s.index.ExpireEvents(ctx, s.now().Add(-s.opts.EventRetention)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Compact compacts the time-series engine fully (for the benchmark's
// bytes-per-sample figure and for operators reclaiming space at once).
func (s *Store) Compact(ctx context.Context) error { return s.series.Compact(ctx) }
