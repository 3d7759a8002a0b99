package main

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/altimeter/altimeter/internal/scale"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
	"github.com/altimeter/altimeter/sdk/transformer"
)

type config struct {
	Meters  []string `hcl:"meters,optional" desc:"Glob patterns (path.Match) of the sample names converted; a leading ! excludes. Other samples pass through unchanged."`
	Name    *string  `hcl:"name,optional" desc:"New sample name."`
	Unit    *string  `hcl:"unit,optional" desc:"New unit."`
	Type    *string  `hcl:"type,optional" desc:"New type: gauge, delta or cumulative."`
	Scale   *string  `hcl:"scale,optional" desc:"expr-lang expression giving the new volume from volume, name, unit, resource_id, project_id, user_id and metadata[\"key\"]."`
	MapFrom *string  `hcl:"map_from,optional" desc:"Regular expression (RE2) matched against the sample name; with map_to, renames the sample."`
	MapTo   *string  `hcl:"map_to,optional" desc:"Replacement for map_from's match; $1 or ${1} is the first group."`
}

// Limits on the caches and the error log, so a stream of distinct names or
// errors cannot grow memory without bound.
const (
	maxCache       = 4096
	maxLoggedKinds = 64
)

// converter is the transformer. Transform is never called concurrently on one
// value (SDK contract), so its scale and caches need no lock.
type converter struct {
	log hclog.Logger

	include, exclude []string
	matchAll         bool

	name, unit *string
	typ        sample.Type

	scale *scale.Scale

	mapFrom *regexp.Regexp
	mapTo   string

	matches map[string]bool
	renames map[string]string

	dropped atomic.Uint64
	logged  map[string]struct{}
}

var (
	_ transformer.Transformer = (*converter)(nil)
	_ base.Closer             = (*converter)(nil)
)

func newConverter(c config, log hclog.Logger) (*converter, error) {
	cv := &converter{
		log: log, name: c.Name, unit: c.Unit,
		matches: make(map[string]bool), renames: make(map[string]string),
		logged: make(map[string]struct{}),
	}
	var errs []error
	if len(c.Meters) == 0 {
		errs = append(errs, schema.AttrError("meters", "must list at least one glob pattern, such as \"*\" or \"disk.*\""))
	}
	for _, m := range c.Meters {
		neg := strings.HasPrefix(m, "!")
		p := strings.TrimPrefix(m, "!")
		if _, err := path.Match(p, ""); err != nil || p == "" {
			errs = append(errs, schema.AttrError("meters", fmt.Sprintf("%q is not a glob pattern (path.Match syntax: *, ?, [a-z]; ! in front excludes)", m)))
			continue
		}
		if neg {
			cv.exclude = append(cv.exclude, p)
		} else {
			cv.include = append(cv.include, p)
		}
	}
	cv.matchAll = len(cv.exclude) == 0 && len(cv.include) == 1 && cv.include[0] == "*"
	if c.Name != nil && *c.Name == "" {
		errs = append(errs, schema.AttrError("name", "must not be empty; leave it out to keep the name"))
	}
	if c.Unit != nil && *c.Unit == "" {
		errs = append(errs, schema.AttrError("unit", "must not be empty; leave it out to keep the unit"))
	}
	if c.Type != nil {
		t, err := sample.ParseType(*c.Type)
		if err != nil {
			errs = append(errs, schema.AttrError("type", "must be \"gauge\", \"delta\" or \"cumulative\""))
		}
		cv.typ = t
	}
	if c.Scale != nil {
		sc, err := scale.Compile(*c.Scale)
		if err != nil {
			errs = append(errs, schema.AttrError("scale", "must be an expression giving a number: "+err.Error()))
		}
		cv.scale = sc
	}
	switch {
	case (c.MapFrom == nil) != (c.MapTo == nil):
		missing := "map_to"
		if c.MapFrom == nil {
			missing = "map_from"
		}
		errs = append(errs, schema.AttrError(missing, "map_from and map_to must be set together"))
	case c.MapFrom != nil:
		re, err := regexp.Compile(*c.MapFrom)
		if err != nil {
			errs = append(errs, schema.AttrError("map_from", "must be a regular expression (RE2 syntax): "+err.Error()))
		}
		cv.mapFrom, cv.mapTo = re, *c.MapTo
		if c.Name != nil {
			errs = append(errs, schema.AttrError("name", "cannot be combined with map_from and map_to"))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
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
	var dropped int
	for i := range in {
		s := &in[i]
		if c.applies(s.Name) && !c.convert(s) {
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
		total := c.dropped.Add(uint64(dropped))
		c.log.Debug("dropped samples whose scale failed", "dropped", dropped, "dropped_total", total)
	}
	return out, nil
}

// Close reports how many samples were dropped over the plugin's life.
func (c *converter) Close(context.Context) error {
	if n := c.dropped.Load(); n > 0 {
		c.log.Info("samples dropped because scale failed", "dropped_total", n)
	}
	return nil
}

func (c *converter) applies(name string) bool {
	if c.matchAll {
		return true
	}
	if m, ok := c.matches[name]; ok {
		return m
	}
	m := (len(c.include) == 0 || matchAny(c.include, name)) && !matchAny(c.exclude, name)
	if len(c.matches) >= maxCache {
		clear(c.matches)
	}
	c.matches[name] = m
	return m
}

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

// convert rewrites s; it reports false if s must be dropped. The scale sees
// the sample as it arrived (old name and unit).
func (c *converter) convert(s *sample.Sample) bool {
	if c.scale != nil {
		f, err := c.scale.Eval(s)
		if err != nil {
			c.fail(s, err)
			return false
		}
		s.Volume = f
	}
	switch {
	case c.mapFrom != nil:
		s.Name = c.rename(s.Name)
	case c.name != nil:
		s.Name = *c.name
	}
	if c.unit != nil {
		s.Unit = *c.unit
	}
	if c.typ != sample.TypeUnspecified {
		s.Type = c.typ
	}
	return true
}

func (c *converter) rename(name string) string {
	if n, ok := c.renames[name]; ok {
		return n
	}
	n := c.mapFrom.ReplaceAllString(name, c.mapTo)
	if len(c.renames) >= maxCache {
		clear(c.renames)
	}
	c.renames[name] = n
	return n
}

// fail logs a scale error at warn the first time its message is seen; the
// same error on later samples is only counted.
func (c *converter) fail(s *sample.Sample, err error) {
	msg := err.Error()
	if _, seen := c.logged[msg]; seen {
		return
	}
	switch {
	case len(c.logged) < maxLoggedKinds:
		c.log.Warn("dropping sample: scale failed; further samples failing the same way are dropped silently",
			"meter", s.Name, "resource_id", s.ResourceID, "error", err)
	case len(c.logged) == maxLoggedKinds:
		c.log.Warn("too many distinct scale errors; no longer logging new ones", "kinds", maxLoggedKinds)
	default:
		return
	}
	c.logged[msg] = struct{}{}
}

// Counters implements base.CounterReporter.
func (c *converter) Counters() map[string]uint64 {
	return map[string]uint64{"scale_failed": c.dropped.Load()}
}
