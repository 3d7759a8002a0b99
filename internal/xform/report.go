package xform

import (
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// maxLoggedKinds bounds the distinct problems a transformer logs.
const maxLoggedKinds = 64

// Report is a transformer's account of the samples it could not use: a
// counter per kind of problem, exposed through base.CounterReporter (the
// host's altimeter_plugin_events_total), and a warning the first time each
// distinct message is seen (up to 64), so a bad stream does not flood the
// log. Count is safe for concurrent use; Warn is called from Transform.
type Report struct {
	log    hclog.Logger
	names  []string
	counts []atomic.Uint64
	logged map[string]struct{}
}

// NewReport declares the counters, by snake_case name.
func NewReport(log hclog.Logger, names ...string) *Report {
	return &Report{log: log, names: names, counts: make([]atomic.Uint64, len(names)), logged: map[string]struct{}{}}
}

// Add adds n to counter i (an index into the names given to NewReport).
func (r *Report) Add(i int, n uint64) {
	if n > 0 {
		r.counts[i].Add(n)
	}
}

// Load returns counter i.
func (r *Report) Load(i int) uint64 { return r.counts[i].Load() }

// Warn logs msg, err and the key/value pairs the first time this msg and
// err's text are seen together.
func (r *Report) Warn(msg string, err error, kv ...any) {
	key := msg
	if err != nil {
		key += "\x00" + err.Error()
		kv = append(kv, "error", err)
	}
	if _, seen := r.logged[key]; seen {
		return
	}
	switch {
	case len(r.logged) < maxLoggedKinds:
		// A logger may keep what it is given; a value may alias a batch's
		// bytes (wire.SampleView), so strings are cloned.
		for i, x := range kv {
			if str, ok := x.(string); ok {
				kv[i] = strings.Clone(str)
			}
		}
		r.log.Warn(msg+"; further samples failing the same way are only counted", kv...)
	case len(r.logged) == maxLoggedKinds:
		r.log.Warn("too many distinct problems; no longer logging new ones", "kinds", maxLoggedKinds)
	default:
		return
	}
	r.logged[key] = struct{}{}
}

// Counters returns every counter by name, for base.CounterReporter.
func (r *Report) Counters() map[string]uint64 {
	out := make(map[string]uint64, len(r.names))
	for i, n := range r.names {
		out[n] = r.counts[i].Load()
	}
	return out
}
