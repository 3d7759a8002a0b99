package notification

import (
	"fmt"
	"regexp"
	"strings"
)

// Matcher tells whether an event type matches a compiled pattern.
type Matcher func(eventType string) bool

// CompileGlob compiles a Unix shell pattern as Python's fnmatch reads it
// (event definitions): * matches any run of characters, dots included, ?
// one character, [seq] and [!seq] a set. Matching is case-sensitive and
// covers the whole event type.
func CompileGlob(pattern string) (Matcher, error) {
	if !strings.ContainsAny(pattern, "*?[") {
		return func(s string) bool { return s == pattern }, nil
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok && !strings.ContainsAny(p, "*?[") {
		return func(s string) bool { return strings.HasPrefix(s, p) }, nil
	}
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := i + 1
			if j < len(pattern) && pattern[j] == '!' {
				j++
			}
			if j < len(pattern) && pattern[j] == ']' {
				j++
			}
			for j < len(pattern) && pattern[j] != ']' {
				j++
			}
			if j >= len(pattern) { // no closing bracket: a literal [
				b.WriteString(`\[`)
				continue
			}
			set := pattern[i+1 : j]
			b.WriteByte('[')
			if strings.HasPrefix(set, "!") {
				b.WriteByte('^')
				set = set[1:]
			} else if strings.HasPrefix(set, "^") {
				b.WriteByte('\\')
			}
			b.WriteString(strings.ReplaceAll(set, `\`, `\\`))
			b.WriteByte(']')
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("glob %q: %w", pattern, err)
	}
	return re.MatchString, nil
}

// CompileRegexp compiles a Python regular expression with re.match's
// semantics (meter definitions): the pattern must match at the start of the
// event type, not necessarily up to its end. Go's RE2 lacks lookaround, so
// top-level lookaheads ((?!...) and (?=...), as in Ceilometer's
// "compute.instance.(?!create.start|update).*") are evaluated separately;
// a lookahead inside a group is an error.
func CompileRegexp(pattern string) (Matcher, error) {
	m, err := compilePy(pattern)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %w", pattern, err)
	}
	return m.prefix, nil
}

// pyRegexp matches pre, then (unless look is nil) a lookahead, then post.
type pyRegexp struct {
	pre      *regexp.Regexp // anchored at the start; whole string when look != nil
	look     *regexp.Regexp // anchored at the start
	negative bool
	post     *pyRegexp
}

func compilePy(pattern string) (*pyRegexp, error) {
	pattern = strings.ReplaceAll(pattern, `\Z`, `\z`)
	at, end, negative, err := findLookahead(pattern)
	if err != nil {
		return nil, err
	}
	if at < 0 {
		re, err := regexp.Compile(`^(?:` + pattern + `)`)
		if err != nil {
			return nil, err
		}
		return &pyRegexp{pre: re}, nil
	}
	pre, err := regexp.Compile(`^(?:` + pattern[:at] + `)$`)
	if err != nil {
		return nil, err
	}
	look, err := regexp.Compile(`^(?:` + pattern[at+3:end] + `)`)
	if err != nil {
		return nil, err
	}
	post, err := compilePy(pattern[end+1:])
	if err != nil {
		return nil, err
	}
	return &pyRegexp{pre: pre, look: look, negative: negative, post: post}, nil
}

// prefix reports whether p matches at the start of s.
func (p *pyRegexp) prefix(s string) bool {
	if p.look == nil {
		return p.pre.MatchString(s)
	}
	for k := 0; k <= len(s); k++ {
		if !p.pre.MatchString(s[:k]) {
			continue
		}
		if p.look.MatchString(s[k:]) == p.negative {
			continue
		}
		if p.post.prefix(s[k:]) {
			return true
		}
	}
	return false
}

// findLookahead returns the position of the first top-level "(?!" or
// "(?=" in pattern and of its closing parenthesis, or -1.
func findLookahead(p string) (at, end int, negative bool, err error) {
	depth, class := 0, false
	at = -1
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case class:
			if c == ']' {
				class = false
			}
		case c == '[':
			class = true
			if i+1 < len(p) && p[i+1] == '^' {
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++
			}
		case c == '(':
			look := strings.HasPrefix(p[i:], "(?!") || strings.HasPrefix(p[i:], "(?=")
			if look && depth > 0 {
				return -1, -1, false, fmt.Errorf("lookahead inside a group at offset %d is not supported", i)
			}
			if strings.HasPrefix(p[i:], "(?<=") || strings.HasPrefix(p[i:], "(?<!") {
				return -1, -1, false, fmt.Errorf("lookbehind at offset %d is not supported", i)
			}
			if look && at < 0 {
				at, negative = i, p[i+2] == '!'
			}
			depth++
		case c == ')':
			depth--
			if depth == 0 && at >= 0 {
				return at, i, negative, nil
			}
			if depth < 0 {
				return -1, -1, false, fmt.Errorf("unbalanced parenthesis at offset %d", i)
			}
		}
	}
	if at >= 0 {
		return -1, -1, false, fmt.Errorf("missing ) after lookahead at offset %d", at)
	}
	return -1, -1, false, nil
}
