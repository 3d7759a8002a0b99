package main

import (
	"context"
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/internal/xform"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/transformer"
)

type config struct {
	Meters    []string `hcl:"meters,optional" desc:"Glob patterns (path.Match) of the sample names held; a leading ! excludes."`
	Unmatched string   `hcl:"unmatched,optional" desc:"What happens to samples meters does not take: \"pass\" (forwarded at once) or \"drop\"."`
	Size      int      `hcl:"size,optional" desc:"How many samples to hold before passing them all on (Ceilometer's size)."`
}

// maxSize bounds how many samples an accumulator may hold.
const maxSize = 1_000_000

// accumulator is the transformer. Transform and Flush are never called
// concurrently (SDK contract); Counters may be.
type accumulator struct {
	log       hclog.Logger
	sel       *xform.Selector
	unmatched xform.Unmatched
	size      int
	held      []sample.Sample
	report    *xform.Report
}

var (
	_ transformer.Transformer = (*accumulator)(nil)
	_ transformer.Flusher     = (*accumulator)(nil)
	_ base.Closer             = (*accumulator)(nil)
	_ base.CounterReporter    = (*accumulator)(nil)
)

const (
	cReleased = iota // samples passed on because size was reached
	cFlushed         // samples passed on by the host's Flush
)

func newAccumulator(c config, log hclog.Logger) (*accumulator, error) {
	a := &accumulator{log: log, size: c.Size, report: xform.NewReport(log, "released", "flushed")}
	var errs xform.Errors
	var err error
	a.sel, err = xform.NewSelector(c.Meters)
	errs.Add(err)
	a.unmatched, err = xform.ParseUnmatched(c.Unmatched)
	errs.Add(err)
	errs.Add(xform.Count("size", c.Size, 1, maxSize))
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return a, nil
}

// Transform holds the samples meters takes; once it holds size of them, they
// all follow the batch's other samples.
func (a *accumulator) Transform(ctx context.Context, in []sample.Sample) ([]sample.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	out := in[:0]
	for i := range in {
		s := &in[i]
		switch {
		case a.sel.Match(s.Name):
			a.held = append(a.held, *s)
		case a.unmatched == xform.Pass:
			out = append(out, *s)
		}
	}
	if len(a.held) < a.size {
		return out, nil
	}
	// Ceilometer flushed after every batch; what it held went on once
	// there were size of them.
	a.report.Add(cReleased, uint64(len(a.held)))
	out = append(out, a.held...)
	a.held = nil
	return out, nil
}

// Flush lets go of everything held, however few: the host calls it before
// a shutdown or reload, so nothing accepted is lost.
func (a *accumulator) Flush(context.Context) ([]sample.Sample, error) {
	out := a.held
	a.held = nil
	a.report.Add(cFlushed, uint64(len(out)))
	return out, nil
}

// Counters implements base.CounterReporter.
func (a *accumulator) Counters() map[string]uint64 { return a.report.Counters() }

// Close warns if samples are still held: they are lost with the process.
func (a *accumulator) Close(context.Context) error {
	if n := len(a.held); n > 0 {
		a.log.Warn("accumulator closed while holding samples; they are lost", "held", n)
	}
	return nil
}
