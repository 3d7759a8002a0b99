package main

import (
	"context"
	"math"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/internal/xform"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/transformer"
)

type config struct {
	Meters     []string `hcl:"meters,optional" desc:"Glob patterns (path.Match) of the sample names turned into deltas; a leading ! excludes."`
	Unmatched  string   `hcl:"unmatched,optional" desc:"What happens to samples meters does not take: \"pass\" (forwarded unchanged) or \"drop\"."`
	Name       *string  `hcl:"name,optional" desc:"Output name (Ceilometer's target name), e.g. \"cpu.delta\"."`
	MapFrom    *string  `hcl:"map_from,optional" desc:"Regular expression (RE2) on the input name; with map_to, gives the output name."`
	MapTo      *string  `hcl:"map_to,optional" desc:"Replacement for map_from's matches; $1 or ${1} is the first group."`
	GrowthOnly bool     `hcl:"growth_only,optional" desc:"Emit only differences that are not negative (Ceilometer's growth_only)."`
	IdleExpiry string   `hcl:"idle_expiry,optional" desc:"A series not seen for this long is forgotten (its next sample is a first sample again)."`
	MaxSeries  int      `hcl:"max_series,optional" desc:"Most series remembered; past it the least recently seen is forgotten (counted)."`
}

// The counters, in Report order, after xform.SeriesCounters.
const (
	cOutOfOrder = iota + 2 // timestamp older than the previous one
	cNegative              // growth_only and the difference is negative
	cNotFinite             // the difference is not a finite number
)

var counterNames = slices.Concat(xform.SeriesCounters, []string{"out_of_order", "negative_delta", "not_finite"})

// delta is the transformer. Transform is never called concurrently (SDK
// contract); Counters may be.
type delta struct {
	log        hclog.Logger
	sel        *xform.Selector
	unmatched  xform.Unmatched
	target     *xform.Target
	growthOnly bool
	ids        xform.IDs
	series     *xform.Series
	report     *xform.Report
	now        func() time.Time
}

var (
	_ transformer.Transformer    = (*delta)(nil)
	_ transformer.RawTransformer = (*delta)(nil)
	_ base.Closer                = (*delta)(nil)
	_ base.CounterReporter       = (*delta)(nil)
)

func newDelta(c config, log hclog.Logger) (*delta, error) {
	d := &delta{log: log, growthOnly: c.GrowthOnly, now: time.Now, report: xform.NewReport(log, counterNames...)}
	var errs xform.Errors
	var err error
	d.sel, err = xform.NewSelector(c.Meters)
	errs.Add(err)
	d.unmatched, err = xform.ParseUnmatched(c.Unmatched)
	errs.Add(err)
	tc := xform.TargetConfig{Name: c.Name, MapFrom: c.MapFrom, MapTo: c.MapTo}
	d.target, err = xform.NewTarget(tc)
	errs.Add(err)
	d.series, err = xform.SeriesFromConfig(c.IdleExpiry, c.MaxSeries)
	errs.Add(err)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	d.ids = xform.NewIDs("delta", tc.Label())
	return d, nil
}

// Transform replaces each sample meters takes by its difference from the
// previous sample of its series, in place.
func (d *delta) Transform(ctx context.Context, in []sample.Sample) ([]sample.Sample, error) {
	return d.series.Transform(ctx, in, d.sel, d.unmatched, d.report, d.now(), d.next, d.derive)
}

// TransformRaw is Transform on the encoded batch, with the same next and
// derive (which read no metadata): the SDK then neither decodes the batch
// nor encodes the result.
func (d *delta) TransformRaw(ctx context.Context, in, out []byte) ([]byte, error) {
	return d.series.TransformRaw(ctx, in, out, d.sel, d.unmatched, d.report, d.now(), nil, d.next, d.derive)
}

// next is the difference from the series' previous sample p to s.
func (d *delta) next(s *sample.Sample, p *xform.Prev, counts []uint64) (float64, bool) {
	// Ceilometer's delta drops only samples older than the previous one
	// (an equal timestamp gives a delta) and keeps the previous state.
	if s.Timestamp.UnixNano() < p.TS {
		counts[cOutOfOrder]++
		d.report.Warn("dropping sample older than the previous one of its series", nil,
			"meter", s.Name, "resource_id", s.ResourceID, "timestamp", s.Timestamp, "previous", time.Unix(0, p.TS).UTC())
		return 0, false
	}
	v := s.Volume - p.Volume
	d.series.Accept(p, s) // as Ceilometer, even when growth_only drops v
	if d.growthOnly && v < 0 {
		counts[cNegative]++
		return 0, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		counts[cNotFinite]++
		d.report.Warn("dropping sample: the difference is not a finite number", nil, "meter", s.Name, "resource_id", s.ResourceID)
		return 0, false
	}
	return v, true
}

func (d *delta) derive(s *sample.Sample, v float64) sample.Sample {
	return sample.Sample{
		Name: d.target.Name(s.Name), Type: sample.Delta, Unit: s.Unit, Volume: v,
		ResourceID: s.ResourceID, ProjectID: s.ProjectID, UserID: s.UserID,
		Timestamp: s.Timestamp, Source: s.Source, MessageID: d.ids.Derive(s.MessageID),
		MonotonicTime: s.MonotonicTime, Metadata: s.Metadata,
	}
}

// Counters implements base.CounterReporter.
func (d *delta) Counters() map[string]uint64 {
	return d.series.Counters(d.report.Counters())
}

// Close logs what the transformer counted over its life.
func (d *delta) Close(context.Context) error {
	c := d.Counters()
	d.log.Info("delta closed; its cache is lost", "series", d.series.Cache.Len(), "first_sample", c["first_sample"],
		"out_of_order", c["out_of_order"], "negative_delta", c["negative_delta"],
		"series_expired", c["series_expired"], "series_evicted", c["series_evicted"])
	return nil
}
