package main

import (
	"context"
	"math"
	"slices"
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

// The counters, in Report order, after xform.SeriesCounters.
const (
	cOutOfOrder  = iota + 2 // timestamp equal to or older than the previous one
	cReset                  // cumulative counter went down
	cScaleFailed            // the scale expression failed for the sample
)

var counterNames = slices.Concat(xform.SeriesCounters, []string{"out_of_order", "counter_reset", "scale_failed"})

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
	metaKeys  []string // the metadata keys scale reads
}

var (
	_ transformer.Transformer    = (*rate)(nil)
	_ transformer.RawTransformer = (*rate)(nil)
	_ base.Closer                = (*rate)(nil)
	_ base.CounterReporter       = (*rate)(nil)
)

func newRate(c config, log hclog.Logger) (*rate, error) {
	r := &rate{log: log, max: c.Max, now: time.Now,
		report: xform.NewReport(log, counterNames...)}
	var errs xform.Errors
	var err error
	r.sel, err = xform.NewSelector(c.Meters)
	errs.Add(err)
	r.unmatched, err = xform.ParseUnmatched(c.Unmatched)
	errs.Add(err)
	tc := xform.TargetConfig{
		Name: c.Name, MapFrom: c.MapFrom, MapTo: c.MapTo,
		Unit: c.Unit, UnitMapFrom: c.UnitMapFrom, UnitMapTo: c.UnitMapTo, Type: c.Type,
	}
	r.target, err = xform.NewTarget(tc)
	errs.Add(err)
	if c.Scale != nil {
		r.scale, err = scale.Compile(*c.Scale)
		if err != nil {
			errs.Add(schema.AttrError("scale", "must be an expression giving a number: "+err.Error()))
		} else {
			r.metaKeys = r.scale.MetaKeys()
		}
	}
	if c.Max != nil && (math.IsNaN(*c.Max) || math.IsInf(*c.Max, 0)) {
		errs.Add(schema.AttrError("max", "must be a finite number"))
	}
	r.series, err = xform.SeriesFromConfig(c.IdleExpiry, c.MaxSeries)
	errs.Add(err)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	r.ids = xform.NewIDs("rate_of_change", tc.Label())
	return r, nil
}

// Transform replaces each sample meters takes by its rate of change, in
// place; samples that give no rate are left out, the others pass or are
// dropped as unmatched says.
func (r *rate) Transform(ctx context.Context, in []sample.Sample) ([]sample.Sample, error) {
	return r.series.Transform(ctx, in, r.sel, r.unmatched, r.report, r.now(), r.next, r.derive)
}

// TransformRaw is Transform on the encoded batch, with the same next and
// derive: the SDK then neither decodes the batch nor encodes the result.
func (r *rate) TransformRaw(ctx context.Context, in, out []byte) ([]byte, error) {
	return r.series.TransformRaw(ctx, in, out, r.sel, r.unmatched, r.report, r.now(), r.metaKeys, r.next, r.derive)
}

// next is the rate from the series' previous sample p to s.
func (r *rate) next(s *sample.Sample, p *xform.Prev, counts []uint64) (float64, bool) {
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
		return 0, false
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
			return 0, false
		}
		v *= f
	}
	if r.max != nil && v > *r.max {
		v = *r.max
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		counts[cScaleFailed]++
		r.report.Warn("dropping sample: the rate is not a finite number", nil, "meter", s.Name, "resource_id", s.ResourceID, "volume", v)
		return 0, false
	}
	return v, true
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
	return r.series.Counters(r.report.Counters())
}

// Close logs what the transformer counted over its life.
func (r *rate) Close(context.Context) error {
	c := r.Counters()
	r.log.Info("rate_of_change closed; its cache is lost", "series", r.series.Cache.Len(), "first_sample", c["first_sample"],
		"out_of_order", c["out_of_order"], "counter_reset", c["counter_reset"], "scale_failed", c["scale_failed"],
		"series_expired", c["series_expired"], "series_evicted", c["series_evicted"])
	return nil
}
