package xform

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// maxCache bounds the name caches (glob results, renames), so a stream of
// distinct names cannot grow memory without bound.
const maxCache = 4096

// Selector is a transformer's meters attribute: glob patterns (path.Match)
// of the sample names it takes, where a leading ! excludes. A name is taken
// if it matches some positive pattern (or there is none) and no ! pattern.
// Not safe for concurrent use (Transform never runs concurrently).
type Selector struct {
	include, exclude []string
	all              bool
	cache            map[string]bool
}

// NewSelector checks patterns; its errors name the meters attribute.
func NewSelector(patterns []string) (*Selector, error) {
	s := &Selector{cache: make(map[string]bool)}
	if len(patterns) == 0 {
		return nil, schema.AttrError("meters", "must list at least one glob pattern, such as \"*\" or \"disk.*\"")
	}
	var errs []error
	for _, m := range patterns {
		p := strings.TrimPrefix(m, "!")
		if _, err := path.Match(p, ""); err != nil || p == "" {
			errs = append(errs, schema.AttrError("meters", fmt.Sprintf("%q is not a glob pattern (path.Match syntax: *, ?, [a-z]; ! in front excludes)", m)))
			continue
		}
		if strings.HasPrefix(m, "!") {
			s.exclude = append(s.exclude, p)
		} else {
			s.include = append(s.include, p)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.all = len(s.exclude) == 0 && len(s.include) == 1 && s.include[0] == "*"
	return s, nil
}

// Match reports whether the transformer takes samples named name.
func (s *Selector) Match(name string) bool {
	if s.all {
		return true
	}
	if m, ok := s.cache[name]; ok {
		return m
	}
	m := (len(s.include) == 0 || matchAny(s.include, name)) && !matchAny(s.exclude, name)
	if len(s.cache) >= maxCache {
		clear(s.cache)
	}
	s.cache[strings.Clone(name)] = m // name may alias a batch's bytes
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

// Unmatched is what a transformer does with the samples its meters do not
// take.
type Unmatched uint8

const (
	// Pass forwards them unchanged, in their place in the batch.
	Pass Unmatched = iota
	// Drop leaves them out, as a Ceilometer sink whose source did not
	// list them never saw them.
	Drop
)

// ParseUnmatched parses the unmatched attribute.
func ParseUnmatched(s string) (Unmatched, error) {
	switch s {
	case "", "pass":
		return Pass, nil
	case "drop":
		return Drop, nil
	}
	return Pass, schema.AttrError("unmatched", fmt.Sprintf("must be \"pass\" or \"drop\", not %q", s))
}

// Map is the loop of a transformer that turns each sample it takes into at
// most one: in place over in (which the SDK hands the transformer), fn's
// output takes the place of the sample it came from, and the samples sel
// does not take pass or are dropped as u says.
func Map(in []sample.Sample, sel *Selector, u Unmatched, fn func(s *sample.Sample) (sample.Sample, bool)) []sample.Sample {
	out := in[:0]
	for i := range in {
		s := &in[i]
		if take, keep := route(sel, u, s.Name); !take {
			if keep {
				out = append(out, *s)
			}
			continue
		}
		if d, ok := fn(s); ok {
			out = append(out, d)
		}
	}
	return out
}

// route is what becomes of a sample named name: taken by the transformer,
// or else kept (passed on unchanged) or dropped as u says.
func route(sel *Selector, u Unmatched, name string) (take, keep bool) {
	if sel.Match(name) {
		return true, false
	}
	return false, u == Pass
}
