package main

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/internal/scale"
	"github.com/altimeter/altimeter/internal/xform"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
	"github.com/altimeter/altimeter/sdk/transformer"
)

type config struct {
	Meters      []string `hcl:"meters,optional" desc:"Glob patterns (path.Match) of the sample names converted; a leading ! excludes. Other samples pass through unchanged."`
	Name        *string  `hcl:"name,optional" desc:"New sample name."`
	Unit        *string  `hcl:"unit,optional" desc:"New unit."`
	Type        *string  `hcl:"type,optional" desc:"New type: gauge, delta or cumulative."`
	Scale       *string  `hcl:"scale,optional" desc:"Expression (Python arithmetic, as Ceilometer's) giving the new volume from the sample: volume, name, unit, resource_id, resource_metadata.key, ..."`
	MapFrom     *string  `hcl:"map_from,optional" desc:"Regular expression (RE2) matched against the sample name; with map_to, renames the sample."`
	MapTo       *string  `hcl:"map_to,optional" desc:"Replacement for map_from's match; $1 or ${1} is the first group."`
	UnitMapFrom *string  `hcl:"unit_map_from,optional" desc:"Regular expression matched against the unit; with unit_map_to, gives the new unit."`
	UnitMapTo   *string  `hcl:"unit_map_to,optional" desc:"Replacement for unit_map_from's match."`
}

// converter is the transformer. Transform is never called concurrently on one
// value (SDK contract), so its caches need no lock.
type converter struct {
	log    hclog.Logger
	sel    *xform.Selector
	target *xform.Target
	scale  *scale.Scale
	report *xform.Report
}

var (
	_ transformer.Transformer = (*converter)(nil)
	_ base.Closer             = (*converter)(nil)
	_ base.CounterReporter    = (*converter)(nil)
)

const cScaleFailed = 0

func newConverter(c config, log hclog.Logger) (*converter, error) {
	cv := &converter{log: log, report: xform.NewReport(log, "scale_failed")}
	var errs xform.Errors
	var err error
	cv.sel, err = xform.NewSelector(c.Meters)
	errs.Add(err)
	cv.target, err = xform.NewTarget(xform.TargetConfig{
		Name: c.Name, MapFrom: c.MapFrom, MapTo: c.MapTo,
		Unit: c.Unit, UnitMapFrom: c.UnitMapFrom, UnitMapTo: c.UnitMapTo, Type: c.Type,
	})
	errs.Add(err)
	if c.Scale != nil {
		if cv.scale, err = scale.Compile(*c.Scale); err != nil {
			errs.Add(schema.AttrError("scale", "must be an expression giving a number: "+err.Error()))
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return cv, nil
}

// Transform converts, in place, the samples it applies to; a sample whose
// scale expression fails is dropped (and counted).
func (c *converter) Transform(ctx context.Context, in []sample.Sample) ([]sample.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	out := in[:0]
	var dropped uint64
	for i := range in {
		s := &in[i]
		if c.sel.Match(s.Name) && !c.convert(s) {
			dropped++
			continue
		}
		if dropped > 0 {
			out = append(out, *s)
		} else {
			out = in[:i+1]
		}
	}
	if dropped > 0 {
		c.report.Add(cScaleFailed, dropped)
		c.log.Debug("dropped samples whose scale failed", "dropped", dropped, "dropped_total", c.report.Load(cScaleFailed))
	}
	return out, nil
}

// Close reports how many samples were dropped over the plugin's life.
func (c *converter) Close(context.Context) error {
	if n := c.report.Load(cScaleFailed); n > 0 {
		c.log.Info("samples dropped because scale failed", "dropped_total", n)
	}
	return nil
}

// convert rewrites s; it reports false if s must be dropped. The scale sees
// the sample as it arrived (old name and unit).
func (c *converter) convert(s *sample.Sample) bool {
	if c.scale != nil {
		f, err := c.scale.Eval(s)
		if err != nil {
			c.report.Warn("dropping sample: scale failed", err, "meter", s.Name, "resource_id", s.ResourceID)
			return false
		}
		s.Volume = f
	}
	s.Name = c.target.Name(s.Name)
	s.Unit = c.target.Unit(s.Unit)
	s.Type = c.target.Type(s.Type)
	return true
}

// Counters implements base.CounterReporter.
func (c *converter) Counters() map[string]uint64 { return c.report.Counters() }
