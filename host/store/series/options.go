package series

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/altimeter/altimeter/host/store/disk"
)

// Key identifies a series. Type is "gauge", "delta" or "cumulative".
type Key struct {
	Meter, Type, Unit, ResourceID, ProjectID, UserID, Source string
}

// ID is a series (or roll-up scope) number, unique within one DB.
type ID uint64

// Archive is one roll-up resolution: Points buckets of Granularity each.
type Archive struct {
	Granularity time.Duration
	Points      int
}

// Policy is an archive policy, as Gnocchi's: which roll-ups a meter keeps
// and for how long raw samples stay.
type Policy struct {
	Name     string
	Archives []Archive
	// Aggregates the policy keeps: count, sum, min, max, mean, stddev, last
	// (always derivable from the stored Agg) and percentiles "pNN" such as
	// "p95" or "p99.9", which Stats computes from raw samples.
	Aggregates []string
	// RawRetention is how long raw samples are kept; 0 means as long as the
	// longest archive.
	RawRetention time.Duration
}

// Rule maps meter names matching Pattern (path.Match) to a policy. The
// first matching rule wins.
type Rule struct {
	Pattern string
	Policy  string
}

// Options configure Open. The zero value is usable.
type Options struct {
	// Policies default to DefaultPolicies().
	Policies []Policy
	// Rules default to "*" -> "medium". A meter no rule matches uses the
	// first policy.
	Rules []Rule
	// OutOfOrder is how far behind a series' newest sample a sample may be
	// and still be accepted (default 1h). Older samples are counted as
	// TooOld by Write, not stored.
	OutOfOrder time.Duration
	// Sync asks for an fsync of the WAL on each Write. Writes are synced
	// unless NoSync is set, so the zero Options are durable; Sync is kept so
	// that callers can say it explicitly.
	Sync bool
	// NoSync disables the fsync of the WAL on each Write (benchmarks only).
	// It wins over Sync.
	NoSync bool
	// ChunkWindow is the time span of one sealed chunk (default 2h). It is
	// fixed when the DB is created; later values are ignored.
	ChunkWindow time.Duration
	// CacheSize is Pebble's block cache in bytes (default 64 MiB), besides
	// the memtables, which Pebble counts against its cache: the cache
	// made holds CacheSize + 2 x MemTableSize.
	CacheSize int64
	// RetainEvery is the period of the background retention and packing
	// (default 1m); negative disables the background goroutine.
	RetainEvery time.Duration
	// Now is the clock for retention (default time.Now).
	Now func() time.Time
	// MemTableSize is Pebble's memtable size in bytes (default 64 MiB,
	// at least 1 MiB). A full memtable is flushed into an sstable of
	// about its size, so the free space kept by Guard should hold a few.
	MemTableSize int64
	// Guard, when set, is consulted by the background loop: packing waits
	// while free space is below its minimum, retention below half of it,
	// and a DB broken by a failed write reopens only above it.
	Guard *disk.Guard
	// FS is the file system Pebble uses (tests inject faults through
	// it); nil means the operating system's.
	FS vfs.FS
}

// DefaultPolicies returns Gnocchi-like policies: low (5m x 8640), medium
// (1m x 10080, 1h x 8760) and high (1s x 3600, 1m x 10080, 1h x 8760), each
// keeping raw samples 7 days.
func DefaultPolicies() []Policy {
	std := []string{"count", "sum", "min", "max", "mean", "stddev", "last"}
	week := 7 * 24 * time.Hour
	return []Policy{
		{Name: "low", Archives: []Archive{{5 * time.Minute, 8640}}, Aggregates: std, RawRetention: week},
		{Name: "medium", Archives: []Archive{{time.Minute, 10080}, {time.Hour, 8760}}, Aggregates: std, RawRetention: week},
		{Name: "high", Archives: []Archive{{time.Second, 3600}, {time.Minute, 10080}, {time.Hour, 8760}}, Aggregates: std, RawRetention: week},
	}
}

// archive is an Archive in microseconds.
type archive struct {
	gran, span int64
	perSeries  bool // kept per series too (its span exceeds raw retention)
}

// policy is a validated Policy.
type policy struct {
	name     string
	archives []archive // by granularity, finest first
	rawRet   int64     // µs
	pcts     []string  // percentile names, e.g. "p95"
	pctVals  []float64 // the matching fractions in [0,1]
}

const usPerNs = int64(time.Microsecond)

func (o *Options) resolve() ([]*policy, error) {
	ps := o.Policies
	if len(ps) == 0 {
		ps = DefaultPolicies()
	}
	if o.Rules == nil {
		o.Rules = []Rule{{Pattern: "*", Policy: "medium"}}
	}
	if o.OutOfOrder == 0 {
		o.OutOfOrder = time.Hour
	}
	if o.OutOfOrder < 0 {
		return nil, fmt.Errorf("out of order window %s: must not be negative", o.OutOfOrder)
	}
	if o.ChunkWindow == 0 {
		o.ChunkWindow = 2 * time.Hour
	}
	if o.ChunkWindow < time.Second {
		return nil, fmt.Errorf("chunk window %s: must be at least 1s", o.ChunkWindow)
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 64 << 20
	}
	if o.RetainEvery == 0 {
		o.RetainEvery = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 64 << 20
	}
	if o.MemTableSize < 1<<20 {
		return nil, fmt.Errorf("memtable size %d: must be at least 1 MiB", o.MemTableSize)
	}
	var out []*policy
	seen := map[string]bool{}
	for _, p := range ps {
		if p.Name == "" || seen[p.Name] {
			return nil, fmt.Errorf("policy %q: name empty or duplicate", p.Name)
		}
		seen[p.Name] = true
		if len(p.Archives) == 0 {
			return nil, fmt.Errorf("policy %q: no archives", p.Name)
		}
		rp := &policy{name: p.Name}
		for _, a := range p.Archives {
			if a.Granularity < time.Microsecond || a.Granularity%time.Microsecond != 0 || a.Points <= 0 {
				return nil, fmt.Errorf("policy %q: archive %s x %d: granularity must be a positive whole number of microseconds and points positive", p.Name, a.Granularity, a.Points)
			}
			g := int64(a.Granularity / time.Microsecond)
			rp.archives = append(rp.archives, archive{gran: g, span: g * int64(a.Points)})
		}
		slices.SortFunc(rp.archives, func(a, b archive) int { return int(a.gran - b.gran) })
		for i := 1; i < len(rp.archives); i++ {
			if rp.archives[i].gran == rp.archives[i-1].gran {
				return nil, fmt.Errorf("policy %q: two archives of granularity %dµs", p.Name, rp.archives[i].gran)
			}
		}
		if p.RawRetention < 0 {
			return nil, fmt.Errorf("policy %q: raw retention %s: must not be negative", p.Name, p.RawRetention)
		}
		rp.rawRet = int64(p.RawRetention / time.Microsecond)
		if rp.rawRet == 0 {
			for _, a := range rp.archives {
				rp.rawRet = max(rp.rawRet, a.span)
			}
		}
		for i := range rp.archives {
			rp.archives[i].perSeries = rp.archives[i].span > rp.rawRet
		}
		for _, ag := range p.Aggregates {
			switch ag {
			case "count", "sum", "min", "max", "mean", "stddev", "last":
				continue
			}
			f, err := parsePercentile(ag)
			if err != nil {
				return nil, fmt.Errorf("policy %q: %w", p.Name, err)
			}
			rp.pcts = append(rp.pcts, ag)
			rp.pctVals = append(rp.pctVals, f)
		}
		out = append(out, rp)
	}
	for _, r := range o.Rules {
		if _, err := path.Match(r.Pattern, ""); err != nil {
			return nil, fmt.Errorf("rule %q: %w", r.Pattern, err)
		}
		if !seen[r.Policy] {
			return nil, fmt.Errorf("rule %q: unknown policy %q", r.Pattern, r.Policy)
		}
	}
	return out, nil
}

func parsePercentile(s string) (float64, error) {
	num, ok := strings.CutPrefix(s, "p")
	if !ok {
		return 0, fmt.Errorf("aggregate %q: want count, sum, min, max, mean, stddev, last or pNN", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || !(f > 0 && f <= 100) {
		return 0, fmt.Errorf("aggregate %q: percentile must be in (0, 100]", s)
	}
	return f / 100, nil
}

// policyFor returns the policy of a meter: the first matching rule's, or
// the first policy.
func (db *DB) policyFor(meter string) *policy {
	for _, r := range db.opts.Rules {
		if ok, _ := path.Match(r.Pattern, meter); ok {
			for _, p := range db.policies {
				if p.name == r.Policy {
					return p
				}
			}
		}
	}
	return db.policies[0]
}

// RawRetention is how long the raw samples of a meter are kept, by its
// policy: a sample older than now minus it is deleted by the next Retain.
func (db *DB) RawRetention(meter string) time.Duration {
	return time.Duration(db.policyFor(meter).rawRet) * time.Microsecond
}
