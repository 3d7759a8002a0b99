package config

import (
	"fmt"
	"path"
	"strings"
)

// MeterFilter selects meters by Ceilometer's polling-source rules
// (ceilometer.polling Source.check_source_filtering and is_supported):
// an entry starting with "!" excludes, "*" alone is the wildcard, anything
// else includes; globs use fnmatch syntax ("*", "?", "[abc]", "[!abc]";
// '.' is an ordinary character). Inclusions may not be mixed with
// exclusions, nor with "*". Exclusions win; a list of only exclusions (with
// or without "*") accepts every other meter.
type MeterFilter struct {
	include  []string // translated to path.Match syntax
	exclude  []string
	inclSrc  []string // include as written
	wildcard bool
}

// PatternError is an invalid meter pattern list; Index is the offending
// entry.
type PatternError struct {
	Index   int
	Pattern string
	Reason  string // Ceilometer's message, or why the glob is malformed
	glob    bool
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("meter pattern %q: %s", e.Pattern, e.Reason)
}

// Summary is the diagnostic summary for e.
func (e *PatternError) Summary() string {
	if e.glob {
		return "Invalid meter pattern"
	}
	return e.Reason
}

// Detail is the diagnostic detail for e.
func (e *PatternError) Detail() string {
	if e.glob {
		return fmt.Sprintf("%q: %s.", e.Pattern, e.Reason)
	}
	return fmt.Sprintf("%q conflicts with an earlier entry: use either inclusions, or exclusions (\"!name\") optionally with \"*\".", e.Pattern)
}

// NewMeterFilter compiles patterns. Errors are *PatternError.
func NewMeterFilter(patterns []string) (*MeterFilter, error) {
	if len(patterns) == 0 {
		return nil, &PatternError{Index: -1, Reason: "no meter patterns given", glob: true}
	}
	f := &MeterFilter{}
	for i, p := range patterns {
		switch {
		case p == "*":
			if len(f.include) > 0 {
				return nil, &PatternError{Index: i, Pattern: p, Reason: "Included meters specified with wildcard"}
			}
			f.wildcard = true
		case strings.HasPrefix(p, "!"):
			if len(f.include) > 0 {
				return nil, &PatternError{Index: i, Pattern: p, Reason: "Both included and excluded meters specified"}
			}
			g, err := compileGlob(p[1:])
			if err != nil {
				return nil, &PatternError{Index: i, Pattern: p, Reason: err.Error(), glob: true}
			}
			f.exclude = append(f.exclude, g)
		default:
			if len(f.exclude) > 0 {
				return nil, &PatternError{Index: i, Pattern: p, Reason: "Both included and excluded meters specified"}
			}
			if f.wildcard {
				return nil, &PatternError{Index: i, Pattern: p, Reason: "Included meters specified with wildcard"}
			}
			g, err := compileGlob(p)
			if err != nil {
				return nil, &PatternError{Index: i, Pattern: p, Reason: err.Error(), glob: true}
			}
			f.include = append(f.include, g)
			f.inclSrc = append(f.inclSrc, p)
		}
	}
	return f, nil
}

// Match reports whether f selects meter name.
func (f *MeterFilter) Match(name string) bool {
	for _, g := range f.exclude {
		if globMatch(g, name) {
			return false
		}
	}
	if f.wildcard || len(f.include) == 0 {
		return true
	}
	for _, g := range f.include {
		if globMatch(g, name) {
			return true
		}
	}
	return false
}

// Inclusions returns the inclusion patterns as written (without "*").
func (f *MeterFilter) Inclusions() []string {
	return append([]string(nil), f.inclSrc...)
}

// MatchGlob reports whether meter name matches the fnmatch-style pattern.
// A malformed pattern matches nothing.
func MatchGlob(pattern, name string) bool {
	g, err := compileGlob(pattern)
	return err == nil && globMatch(g, name)
}

// compileGlob translates an fnmatch pattern into path.Match syntax: "[!" is
// "[^", a leading "^" in a class is literal, and a backslash is an ordinary
// character (fnmatch has no escapes).
func compileGlob(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty pattern")
	}
	if strings.Contains(p, "/") {
		return "", fmt.Errorf("meter names cannot contain '/'")
	}
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case !inClass && c == '[':
			inClass = true
			b.WriteByte('[')
			switch {
			case i+1 < len(p) && p[i+1] == '!':
				b.WriteByte('^')
				i++
			case i+1 < len(p) && p[i+1] == '^':
				b.WriteString(`\^`)
				i++
			}
		case inClass && c == ']':
			inClass = false
			b.WriteByte(']')
		default:
			b.WriteByte(c)
		}
	}
	g := b.String()
	if _, err := path.Match(g, ""); err != nil {
		return "", fmt.Errorf("malformed glob (check the brackets)")
	}
	return g, nil
}

func globMatch(g, name string) bool {
	ok, _ := path.Match(g, name)
	return ok
}
