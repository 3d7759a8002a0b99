package main

import (
	"context"
	"errors"
	"fmt"
	"math"
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
	Meters      []string `hcl:"meters,optional" desc:"Glob patterns (path.Match) of the sample names turned into rates; a leading ! excludes."`
	Unmatched   string   `hcl:"unmatched,optional" desc:"What happens to samples meters does not take: \"pass\" (forwarded unchanged) or \"drop\"."`
	Name        *string  `hcl:"name,optional" desc:"Output name (Ceilometer's target name), e.g. \"cpu_util\"."`
	MapFrom     *string  `hcl:"map_from,optional" desc:"Regular expression (RE2) on the input name; with map_to, gives the output name."`
	MapTo       *string  `hcl:"map_to,optional" desc:"Replacement for map_from's matches; $1 or ${1} is the first group."`
	Unit        *string  `hcl:"unit,optional" desc:"Output unit, e.g. \"%\"."`
	UnitMapFrom *string  `hcl:"unit_map_from,optional" desc:"Regular expression on the input unit; with unit_map_to, gives the output unit."`
	UnitMapTo   *string  `hcl:"unit_map_to,optional" desc:"Replacement for unit_map_from's matches, e.g. \"$1/s\"."`
	Type        *string  `hcl:"type,optional" desc:"Output type: gauge, delta or cumulative (default: the input's)."`
	Scale       *string  `hcl:"scale,optional" desc:"Expression (Python arithmetic, as Ceilometer's) the rate is multiplied by, over the current sample, e.g. \"100.0 / (10**9 * (resource_metadata.cpu_number or 1))\"."`
	Max         *float64 `hcl:"max,optional" desc:"Upper bound of the output volume (Ceilometer's target max)."`
	IdleExpiry  string   `hcl:"idle_expiry,optional" desc:"A series not seen for this long is forgotten (its next sample is a first sample again)."`
	MaxSeries   int      `hcl:"max_series,optional" desc:"Most series remembered; past it the least recently seen is forgotten (counted)."`
}

// Bounds on the attributes.
const (
	maxSeriesLimit = 10_000_000
	maxIdle        = 30 * 24 * time.Hour
)

// The counters, in Report order.
const (
	cFirst       = iota // first sample of a series: no previous value
	cOutOfOrder         // timestamp equal to or older than the previous one
	cReset              // cumulative counter went down
	cScaleFailed        // the scale expression failed for the sample
	cRedelivered        // the sample that set the state, again: same output again
	nCounters
)

var counterNames = [nCounters]string{"first_sample", "out_of_order", "counter_reset", "scale_failed", "redelivered"}

// rate is the transformer. Transform is never called concurrently (SDK
// contract); Counters may be.
type rate struct {
	log       hclog.Logger
	sel       *xform.Selector
	unmatched xform.Unmatched
	target    *xform.Target
	scale     *scale.Scale
	max       *float64
	ids       xform.IDs
	series    *xform.Series
	report    *xform.Report
	now       func() time.Time
}

var (
	_ transformer.Transformer = (*rate)(nil)
	_ base.Closer             = (*rate)(nil)
	_ base.CounterReporter    = (*rate)(nil)
)

func newRate(c config, log hclog.Logger) (*rate, error) {
	r := &rate{log: log, max: c.Max, now: time.Now,
		report: xform.NewReport(log, counterNames[:]...)}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	r.sel, err = xform.NewSelector(c.Meters)
	add(err)
	r.unmatched, err = xform.ParseUnmatched(c.Unmatched)
	add(err)
	r.target, err = xform.NewTarget(xform.TargetConfig{
		Name: c.Name, MapFrom: c.MapFrom, MapTo: c.MapTo,
		Unit: c.Unit, UnitMapFrom: c.UnitMapFrom, UnitMapTo: c.UnitMapTo, Type: c.Type,
	})
	add(err)
	if c.Scale != nil {
		r.scale, err = scale.Compile(*c.Scale)
		if err != nil {
			add(schema.AttrError("scale", "must be an expression giving a number: "+err.Error()))
		}
	}
	if c.Max != nil && (math.IsNaN(*c.Max) || math.IsInf(*c.Max, 0)) {
		add(schema.AttrError("max", "must be a finite number"))
	}
	idle, err := xform.Duration("idle_expiry", c.IdleExpiry, time.Second, maxIdle)
	add(err)
	add(xform.Count("max_series", c.MaxSeries, 1, maxSeriesLimit))
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	name := "*"
	if c.Name != nil {
		name = *c.Name
	} else if c.MapTo != nil {
		name = *c.MapTo
	}
	r.ids = xform.NewIDs("rate_of_change", name)
	r.series = xform.NewSeries(idle, c.MaxSeries)
	return r, nil
}

// Transform replaces each sample meters takes by its rate of change, in
// place; samples that give no rate are left out, the others pass or are
// dropped as unmatched says.
func (r *rate) Transform(ctx context.Context, in []sample.Sample) ([]sample.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	now := r.now()
	r.series.Cache.Expire(now)
	var counts [nCounters]uint64
	out := xform.Map(in, r.sel, r.unmatched, func(s *sample.Sample) (sample.Sample, bool) {
		return r.step(s, now, &counts)
	})
	for i, n := range counts {
		r.report.Add(i, n)
	}
	return out, nil
}

// step feeds one sample to its series and returns the derived sample, if
// any.
func (r *rate) step(s *sample.Sample, now time.Time, counts *[nCounters]uint64) (sample.Sample, bool) {
	p, step := r.series.Step(s, now)
	switch step {
	case xform.First:
		counts[cFirst]++
		return sample.Sample{}, false
	case xform.Again:
		// A redelivery of the sample that set the state (a retried
		// delivery): the same output, with the same message id.
		counts[cRedelivered]++
		if !p.HasOut {
			return sample.Sample{}, false
		}
		return r.derive(s, p.Out), true
	}
	// Prefer the high-precision timer when both samples have one, as
	// Ceilometer did.
	dt := s.Timestamp.UnixNano() - p.TS
	if mono := int64(s.MonotonicTime); p.Mono != 0 && mono != 0 {
		dt = mono - p.Mono
	}
	if dt <= 0 {
		counts[cOutOfOrder]++
		r.report.Warn("dropping sample not newer than the previous one of its series", nil,
			"meter", s.Name, "resource_id", s.ResourceID, "timestamp", s.Timestamp, "previous", time.Unix(0, p.TS).UTC())
		return sample.Sample{}, false
	}
	// A cumulative counter that went down was reset in between: the new
	// volume is a lower bound of the growth. Other types may fall.
	delta := s.Volume - p.Volume
	if s.Type == sample.Cumulative && s.Volume < p.Volume {
		delta = s.Volume
		counts[cReset]++
	}
	r.series.Accept(p, s)
	v := delta / (float64(dt) / float64(time.Second))
	if r.scale != nil {
		f, err := r.scale.Eval(s)
		if err != nil {
			counts[cScaleFailed]++
			r.report.Warn("dropping sample: scale failed", err, "meter", s.Name, "resource_id", s.ResourceID)
			return sample.Sample{}, false
		}
		v *= f
	}
	if r.max != nil && v > *r.max {
		v = *r.max
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		counts[cScaleFailed]++
		r.report.Warn("dropping sample: the rate is not a finite number", nil, "meter", s.Name, "resource_id", s.ResourceID, "volume", v)
		return sample.Sample{}, false
	}
	p.Record(v)
	return r.derive(s, v), true
}

func (r *rate) derive(s *sample.Sample, v float64) sample.Sample {
	return sample.Sample{
		Name: r.target.Name(s.Name), Type: r.target.Type(s.Type), Unit: r.target.Unit(s.Unit), Volume: v,
		ResourceID: s.ResourceID, ProjectID: s.ProjectID, UserID: s.UserID,
		Timestamp: s.Timestamp, Source: s.Source, MessageID: r.ids.Derive(s.MessageID),
		MonotonicTime: s.MonotonicTime, Metadata: s.Metadata,
	}
}

// Counters implements base.CounterReporter.
func (r *rate) Counters() map[string]uint64 {
	m := r.report.Counters()
	m["series_expired"] = r.series.Cache.Expired()
	m["series_evicted"] = r.series.Cache.Evicted()
	return m
}

// Close logs what the transformer counted over its life.
func (r *rate) Close(context.Context) error {
	c := r.Counters()
	r.log.Info("rate_of_change closed; its cache is lost", "series", r.series.Cache.Len(), "first_sample", c["first_sample"],
		"out_of_order", c["out_of_order"], "counter_reset", c["counter_reset"], "scale_failed", c["scale_failed"],
		"series_expired", c["series_expired"], "series_evicted", c["series_evicted"])
	return nil
}
