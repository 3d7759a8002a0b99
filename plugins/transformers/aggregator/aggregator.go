package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/internal/scale"
	"github.com/altimeter/altimeter/internal/xform"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
	"github.com/altimeter/altimeter/sdk/transformer"
)

type config struct {
	Meters           []string `hcl:"meters,optional" desc:"Glob patterns (path.Match) of the sample names aggregated; a leading ! excludes."`
	Unmatched        string   `hcl:"unmatched,optional" desc:"What happens to samples meters does not take: \"pass\" (forwarded at once) or \"drop\"."`
	Size             *int     `hcl:"size,optional" desc:"Let the groups go once this many samples came in (Ceilometer's size; 0: no size limit). Default 1 unless retention_time is set."`
	RetentionTime    *string  `hcl:"retention_time,optional" desc:"Let the groups go once the first sample is this old (Ceilometer's retention_time, as a duration)."`
	ProjectID        *string  `hcl:"project_id,optional" desc:"Merge policy for project_id: \"first\" or \"last\"; unset, project_id is part of the group."`
	UserID           *string  `hcl:"user_id,optional" desc:"Merge policy for user_id: \"first\" or \"last\"; unset, user_id is part of the group."`
	ResourceMetadata string   `hcl:"resource_metadata,optional" desc:"Merge policy for resource_metadata: \"first\", \"last\" or \"drop\"."`
	Timestamp        string   `hcl:"timestamp,optional" desc:"Timestamp of a merged sample: the \"first\" or the \"last\" one's."`
	Name             *string  `hcl:"name,optional" desc:"Output name (Ceilometer's target name)."`
	MapFrom          *string  `hcl:"map_from,optional" desc:"Regular expression (RE2) on the input name; with map_to, gives the output name."`
	MapTo            *string  `hcl:"map_to,optional" desc:"Replacement for map_from's matches; $1 or ${1} is the first group."`
	Unit             *string  `hcl:"unit,optional" desc:"Output unit."`
	UnitMapFrom      *string  `hcl:"unit_map_from,optional" desc:"Regular expression on the input unit; with unit_map_to, gives the output unit."`
	UnitMapTo        *string  `hcl:"unit_map_to,optional" desc:"Replacement for unit_map_from's matches."`
	Type             *string  `hcl:"type,optional" desc:"Output type: gauge, delta or cumulative (default: the input's)."`
	Scale            *string  `hcl:"scale,optional" desc:"Expression (Python arithmetic) giving each sample's contribution from the sample; default its volume."`
	MaxGroups        int      `hcl:"max_groups,optional" desc:"Most groups held; a sample that would open one more lets the held groups go first (counted)."`
}

// Bounds on the attributes.
const (
	maxSizeLimit   = 10_000_000
	maxGroupsLimit = 10_000_000
	maxRetention   = 24 * time.Hour
)

// The counters, in Report order.
const (
	cScaleFailed = iota // the scale expression failed for a sample
	cOnSize             // releases because size samples came in
	cOnTime             // releases because retention_time passed
	cOnMaxGroups        // releases because max_groups was reached
	cOnFlush            // releases by the host's Flush
	nCounters
)

var counterNames = [nCounters]string{"scale_failed", "released_on_size", "released_on_time", "released_on_max_groups", "released_on_flush"}

// policy is a merge policy for a field.
type policy uint8

const (
	unset policy = iota // the field is part of the group key
	first
	last
	drop
)

func parsePolicy(attr, s string, allowDrop bool) (policy, error) {
	switch s {
	case "first":
		return first, nil
	case "last":
		return last, nil
	case "drop":
		if allowDrop {
			return drop, nil
		}
	}
	want := `"first" or "last"`
	if allowDrop {
		want = `"first", "last" or "drop"`
	}
	return unset, schema.AttrError(attr, fmt.Sprintf("must be %s, not %q", want, s))
}

// groupKey is Ceilometer's unique key: name and resource, and project and
// user when they have no merge policy.
type groupKey struct {
	name, resource, project, user string
}

type group struct {
	s     sample.Sample
	count int
}

// aggregator is the transformer. Transform and Flush are never called
// concurrently (SDK contract); Counters may be.
type aggregator struct {
	log       hclog.Logger
	sel       *xform.Selector
	unmatched xform.Unmatched
	target    *xform.Target
	scale     *scale.Scale
	ids       xform.IDs
	report    *xform.Report
	now       func() time.Time

	size          int           // 0: no size limit
	retention     time.Duration // 0: no time limit
	project, user policy
	metadata      policy
	lastTimestamp bool
	maxGroups     int
	groups        []group
	index         map[groupKey]int
	aggregated    int
	initial       time.Time // when the held groups' first sample was taken
	hasInitial    bool
}

var (
	_ transformer.Transformer = (*aggregator)(nil)
	_ transformer.Flusher     = (*aggregator)(nil)
	_ base.Closer             = (*aggregator)(nil)
	_ base.CounterReporter    = (*aggregator)(nil)
)

func newAggregator(c config, log hclog.Logger, now func() time.Time) (*aggregator, error) {
	a := &aggregator{log: log, now: now, maxGroups: c.MaxGroups, index: map[groupKey]int{},
		report: xform.NewReport(log, counterNames[:]...)}
	var errs xform.Errors
	var err error
	a.sel, err = xform.NewSelector(c.Meters)
	errs.Add(err)
	a.unmatched, err = xform.ParseUnmatched(c.Unmatched)
	errs.Add(err)
	tc := xform.TargetConfig{
		Name: c.Name, MapFrom: c.MapFrom, MapTo: c.MapTo,
		Unit: c.Unit, UnitMapFrom: c.UnitMapFrom, UnitMapTo: c.UnitMapTo, Type: c.Type,
	}
	a.target, err = xform.NewTarget(tc)
	errs.Add(err)
	if c.Scale != nil {
		if a.scale, err = scale.Compile(*c.Scale); err != nil {
			errs.Add(schema.AttrError("scale", "must be an expression giving a number: "+err.Error()))
		}
	}
	if c.Size != nil {
		a.size = *c.Size
		errs.Add(xform.Count("size", a.size, 0, maxSizeLimit))
	}
	if c.RetentionTime != nil {
		a.retention, err = xform.Duration("retention_time", *c.RetentionTime, time.Second, maxRetention)
		errs.Add(err)
	} else {
		// Ceilometer: size 1 only when neither is given (bug 1531626: a
		// retention_time alone used to flush every sample).
		switch {
		case c.Size == nil:
			a.size = 1
		case a.size == 0:
			errs.Add(schema.AttrError("size", "0 means no size limit, which needs a retention_time"))
		}
	}
	if c.ProjectID != nil {
		a.project, err = parsePolicy("project_id", *c.ProjectID, false)
		errs.Add(err)
	}
	if c.UserID != nil {
		a.user, err = parsePolicy("user_id", *c.UserID, false)
		errs.Add(err)
	}
	a.metadata, err = parsePolicy("resource_metadata", c.ResourceMetadata, true)
	errs.Add(err)
	switch c.Timestamp {
	case "first":
	case "last":
		a.lastTimestamp = true
	default:
		errs.Add(schema.AttrError("timestamp", fmt.Sprintf("must be \"first\" or \"last\", not %q", c.Timestamp)))
	}
	errs.Add(xform.Count("max_groups", c.MaxGroups, 1, maxGroupsLimit))
	if err := errs.Err(); err != nil {
		return nil, err
	}
	a.ids = xform.NewIDs("aggregator", tc.Label())
	return a, nil
}

// Transform merges the samples meters takes into their groups and, as
// Ceilometer's pipeline flushed after every batch, lets the groups go when
// size samples came in or the first of them is retention_time old.
func (a *aggregator) Transform(ctx context.Context, in []sample.Sample) ([]sample.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	now := a.now()
	out := in[:0]
	var released []sample.Sample
	for i := range in {
		s := &in[i]
		if !a.sel.Match(s.Name) {
			if a.unmatched == xform.Pass {
				out = append(out, *s)
			}
			continue
		}
		released = append(released, a.merge(s, now)...)
	}
	switch {
	case a.size > 0 && a.aggregated >= a.size:
		a.report.Add(cOnSize, 1)
		released = append(released, a.release()...)
	case a.retention > 0 && a.hasInitial && now.Sub(a.initial) > a.retention:
		a.report.Add(cOnTime, 1)
		released = append(released, a.release()...)
	}
	return append(out, released...), nil
}

// merge adds s to its group; it returns the groups it had to let go to
// stay within max_groups.
func (a *aggregator) merge(s *sample.Sample, now time.Time) []sample.Sample {
	v := s.Volume
	if a.scale != nil {
		f, err := a.scale.Eval(s)
		if err != nil {
			a.report.Add(cScaleFailed, 1)
			a.report.Warn("dropping sample: scale failed", err, "meter", s.Name, "resource_id", s.ResourceID)
			return nil
		}
		v = f
	}
	key := groupKey{name: s.Name, resource: s.ResourceID}
	if a.project == unset {
		key.project = s.ProjectID
	}
	if a.user == unset {
		key.user = s.UserID
	}
	var released []sample.Sample
	i, ok := a.index[key]
	if !ok && len(a.groups) >= a.maxGroups {
		a.report.Add(cOnMaxGroups, 1)
		released = a.release()
	}
	if !a.hasInitial {
		// The held groups age from their first sample's timestamp, as in
		// Ceilometer, but never from the future.
		a.initial, a.hasInitial = s.Timestamp, true
		if a.initial.After(now) {
			a.initial = now
		}
	}
	a.aggregated++
	if !ok {
		g := group{count: 1, s: sample.Sample{
			Name: a.target.Name(s.Name), Type: a.target.Type(s.Type), Unit: a.target.Unit(s.Unit), Volume: v,
			ResourceID: s.ResourceID, ProjectID: s.ProjectID, UserID: s.UserID, Timestamp: s.Timestamp,
			Source: s.Source, MessageID: a.ids.Derive(s.MessageID), MonotonicTime: s.MonotonicTime, Metadata: s.Metadata,
		}}
		if a.metadata == drop {
			g.s.Metadata = nil
		}
		a.index[key] = len(a.groups)
		a.groups = append(a.groups, g)
		return released
	}
	g := &a.groups[i]
	g.count++
	if a.lastTimestamp {
		g.s.Timestamp = s.Timestamp
	}
	// Ceilometer: a cumulative sample replaces the volume, others add up
	// (gauges are averaged when the groups go).
	if s.Type == sample.Cumulative {
		g.s.Volume = v
	} else {
		g.s.Volume += v
	}
	if a.project == last {
		g.s.ProjectID = s.ProjectID
	}
	if a.user == last {
		g.s.UserID = s.UserID
	}
	if a.metadata == last {
		g.s.Metadata = s.Metadata
	}
	return released
}

// release lets every group go, in the order they were opened; a gauge's
// volume is the mean of its samples.
func (a *aggregator) release() []sample.Sample {
	out := make([]sample.Sample, len(a.groups))
	for i := range a.groups {
		g := &a.groups[i]
		out[i] = g.s
		if g.s.Type == sample.Gauge {
			out[i].Volume /= float64(g.count)
		}
	}
	a.groups = a.groups[:0]
	clear(a.index)
	a.aggregated, a.hasInitial = 0, false
	return out
}

// Flush lets every group go, whatever size and retention_time say: the host
// calls it before a shutdown or reload, so nothing accepted is lost.
func (a *aggregator) Flush(context.Context) ([]sample.Sample, error) {
	if len(a.groups) == 0 {
		return nil, nil
	}
	a.report.Add(cOnFlush, 1)
	return a.release(), nil
}

// Counters implements base.CounterReporter.
func (a *aggregator) Counters() map[string]uint64 { return a.report.Counters() }

// Close warns if groups are still held: they are lost with the process.
func (a *aggregator) Close(context.Context) error {
	if n := len(a.groups); n > 0 {
		a.log.Warn("aggregator closed while holding groups; they are lost", "groups", n, "samples", a.aggregated)
	}
	return nil
}
