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
	Expr         string  `hcl:"expr" desc:"Expression (Python arithmetic) over meters of one resource: $(meter.name) is that meter's volume, $(meter.name).field one of its fields, e.g. \"$(memory.usage) / $(memory) * 100\"."`
	Name         *string `hcl:"name,optional" desc:"Output name (Ceilometer's target name); default: the first meter's name."`
	Unit         *string `hcl:"unit,optional" desc:"Output unit; default: the first meter's unit."`
	Type         *string `hcl:"type,optional" desc:"Output type: gauge, delta or cumulative; default: the first meter's type."`
	Unmatched    string  `hcl:"unmatched,optional" desc:"What happens to samples of meters the expression does not read: \"pass\" (forwarded unchanged) or \"drop\" (as Ceilometer's arithmetic sink)."`
	Window       string  `hcl:"window,optional" desc:"How long operands of one resource wait for each other, by their timestamps and by arrival; older operands are dropped."`
	MaxResources int     `hcl:"max_resources,optional" desc:"Most resources with operands waiting; past it the least recently seen resource's are dropped (counted)."`
}

// Bounds on the attributes.
const (
	maxResourcesLimit = 10_000_000
	maxWindow         = 24 * time.Hour
)

// The counters, in Report order.
const (
	cExprFailed = iota // the expression failed (division by zero, a bad operand, ...)
	cStale             // an operand older than window next to a newer one
	nCounters
)

var counterNames = [nCounters]string{"expr_failed", "stale_operand"}

// operands are the samples of one resource waiting for the others.
type operands struct {
	have uint32 // bit i: ops[i] holds a sample of refs[i]
	ops  []sample.Sample
}

// arithmetic is the transformer. Transform is never called concurrently
// (SDK contract); Counters may be.
type arithmetic struct {
	log       hclog.Logger
	expr      *scale.Scale
	refs      []string
	refIndex  map[string]int
	all       uint32
	target    *xform.Target
	unmatched xform.Unmatched
	window    time.Duration
	cache     *xform.Cache[string, operands]
	ids       xform.IDs
	report    *xform.Report
	now       func() time.Time
}

var (
	_ transformer.Transformer = (*arithmetic)(nil)
	_ base.Closer             = (*arithmetic)(nil)
	_ base.CounterReporter    = (*arithmetic)(nil)
)

func newArithmetic(c config, log hclog.Logger, now func() time.Time) (*arithmetic, error) {
	a := &arithmetic{log: log, now: now, refIndex: map[string]int{}, report: xform.NewReport(log, counterNames[:]...)}
	var errs xform.Errors
	var err error
	a.expr, err = scale.CompileMeters(c.Expr)
	if err != nil {
		errs.Add(schema.AttrError("expr", "must be an expression over meters giving a number: "+err.Error()))
	} else {
		a.refs = a.expr.Refs()
		for i, r := range a.refs {
			a.refIndex[r] = i
			a.all |= 1 << i
		}
	}
	a.target, err = xform.NewTarget(xform.TargetConfig{Name: c.Name, Unit: c.Unit, Type: c.Type})
	errs.Add(err)
	a.unmatched, err = xform.ParseUnmatched(c.Unmatched)
	errs.Add(err)
	a.window, err = xform.Duration("window", c.Window, time.Second, maxWindow)
	errs.Add(err)
	errs.Add(xform.Count("max_resources", c.MaxResources, 1, maxResourcesLimit))
	if err := errs.Err(); err != nil {
		return nil, err
	}
	name := c.Expr
	if c.Name != nil {
		name = *c.Name
	}
	a.ids = xform.NewIDs("arithmetic", name, c.Expr)
	a.cache = xform.NewCache[string, operands](a.window, c.MaxResources)
	return a, nil
}

// Transform takes the samples of the meters the expression reads, and
// gives a new sample, in the place of the one that completed them, for each
// resource whose operands are all in.
func (a *arithmetic) Transform(ctx context.Context, in []sample.Sample) ([]sample.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	now := a.now()
	a.cache.Expire(now)
	out := in[:0]
	var counts [nCounters]uint64
	for i := range in {
		s := &in[i]
		ref, ok := a.refIndex[s.Name]
		if !ok {
			if a.unmatched == xform.Pass {
				out = append(out, *s)
			}
			continue
		}
		if d, ok := a.hold(s, ref, now, &counts); ok {
			out = append(out, d)
		}
	}
	for i, n := range counts {
		a.report.Add(i, n)
	}
	return out, nil
}

// hold keeps s as operand ref of its resource and, if that completes the
// operands, evaluates the expression.
func (a *arithmetic) hold(s *sample.Sample, ref int, now time.Time, counts *[nCounters]uint64) (sample.Sample, bool) {
	e := a.cache.Get(s.ResourceID, now)
	if e == nil {
		e = a.cache.Put(s.ResourceID, now)
		e.ops = make([]sample.Sample, len(a.refs))
	}
	// Operands more than window apart are not of one moment: the older
	// side goes.
	for j := range a.refs {
		if e.have&(1<<j) == 0 || j == ref {
			continue
		}
		switch held := e.ops[j].Timestamp; {
		case s.Timestamp.Sub(held) > a.window:
			e.have &^= 1 << j
			e.ops[j] = sample.Sample{}
			counts[cStale]++
		case held.Sub(s.Timestamp) > a.window:
			counts[cStale]++
			return sample.Sample{}, false
		}
	}
	// A later sample of the same meter replaces the earlier, as Ceilometer.
	e.ops[ref] = *s
	e.have |= 1 << ref
	if e.have != a.all {
		return sample.Sample{}, false
	}
	var ptrs [scale.MaxRefs]*sample.Sample
	ts := e.ops[0].Timestamp
	for j := range e.ops {
		ptrs[j] = &e.ops[j]
		if e.ops[j].Timestamp.After(ts) {
			ts = e.ops[j].Timestamp
		}
	}
	v, err := a.expr.EvalRefs(ptrs[:len(e.ops)])
	ref0 := e.ops[0]
	a.cache.Delete(s.ResourceID) // complete: used or failed, as Ceilometer popped it
	if err != nil {
		counts[cExprFailed]++
		a.report.Warn("no sample: the expression failed", err, "resource_id", s.ResourceID)
		return sample.Sample{}, false
	}
	return sample.Sample{
		Name: a.target.Name(ref0.Name), Type: a.target.Type(ref0.Type), Unit: a.target.Unit(ref0.Unit), Volume: v,
		ResourceID: ref0.ResourceID, ProjectID: ref0.ProjectID, UserID: ref0.UserID, Timestamp: ts,
		Source: ref0.Source, MessageID: a.ids.Derive(ref0.MessageID), Metadata: ref0.Metadata,
	}, true
}

// Counters implements base.CounterReporter.
func (a *arithmetic) Counters() map[string]uint64 {
	m := a.report.Counters()
	m["incomplete_expired"] = a.cache.Expired()
	m["incomplete_evicted"] = a.cache.Evicted()
	return m
}

// Close logs what the transformer counted over its life.
func (a *arithmetic) Close(context.Context) error {
	c := a.Counters()
	a.log.Info("arithmetic closed; waiting operands are lost", "resources", a.cache.Len(), "expr_failed", c["expr_failed"],
		"stale_operand", c["stale_operand"], "incomplete_expired", c["incomplete_expired"], "incomplete_evicted", c["incomplete_evicted"])
	return nil
}
