package rule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Bounds of a Gnocchi search.
const (
	maxSearchDepth = 10
	maxSearchNodes = 200
	maxInValues    = 100
)

// Search is a parsed Gnocchi resource search (the query of a
// gnocchi_aggregation_by_resources_threshold rule), evaluated against the
// store's resource index: {"=": {"field": value}}, its siblings "!=", "<",
// "<=", ">", ">=" (and eq, ne, lt, le, gt, ge), {"in": {"field": [...]}},
// {"like": {"field": "pat%"}}, and, or, not. Fields id, resource_id,
// original_resource_id, project_id, created_by_project_id, user_id,
// created_by_user_id, started_at and ended_at (always null: the index keeps
// no end) map onto the resource; any other field names a resource metadata
// key.
type Search struct {
	op     string // =, !=, <, <=, >, >=, in, like, and, or, not
	field  string
	value  any
	values []any
	like   *regexp.Regexp
	kids   []*Search
}

var searchOps = map[string]string{
	"=": "=", "==": "=", "eq": "=", "!=": "!=", "ne": "!=",
	"<": "<", "lt": "<", "<=": "<=", "≤": "<=", "le": "<=",
	">": ">", "gt": ">", ">=": ">=", "≥": ">=", "ge": ">=",
	"in": "in", "like": "like", "and": "and", "∧": "and", "or": "or", "∨": "or", "not": "not", "¬": "not",
}

// ParseSearch parses a Gnocchi search in its JSON form.
func ParseSearch(b []byte) (*Search, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("must be a JSON Gnocchi search such as {\"=\": {\"server_group\": \"g1\"}}")
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	nodes := 0
	return searchNode(v, 0, &nodes)
}

func searchNode(v any, depth int, nodes *int) (*Search, error) {
	*nodes++
	if depth > maxSearchDepth {
		return nil, fmt.Errorf("search nests deeper than %d", maxSearchDepth)
	}
	if *nodes > maxSearchNodes {
		return nil, fmt.Errorf("search has more than %d terms", maxSearchNodes)
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("each search term must be an object with one operator")
	}
	var key string
	var arg any
	for k, a := range m {
		key, arg = k, a
	}
	op, ok := searchOps[strings.ToLower(key)]
	if !ok {
		return nil, fmt.Errorf("unknown search operator %q", key)
	}
	s := &Search{op: op}
	switch op {
	case "and", "or":
		list, ok := arg.([]any)
		if !ok || len(list) == 0 {
			return nil, fmt.Errorf("%s needs a non-empty list", key)
		}
		for _, it := range list {
			k, err := searchNode(it, depth+1, nodes)
			if err != nil {
				return nil, err
			}
			s.kids = append(s.kids, k)
		}
		return s, nil
	case "not":
		k, err := searchNode(arg, depth+1, nodes)
		if err != nil {
			return nil, err
		}
		s.kids = []*Search{k}
		return s, nil
	}
	fm, ok := arg.(map[string]any)
	if !ok || len(fm) != 1 {
		return nil, fmt.Errorf("%s needs an object with one field", key)
	}
	for f, val := range fm {
		s.field, s.value = f, val
	}
	if s.field == "" || len(s.field) > MaxStringLen {
		return nil, fmt.Errorf("bad field name")
	}
	switch op {
	case "in":
		list, ok := s.value.([]any)
		if !ok || len(list) > maxInValues {
			return nil, fmt.Errorf("in needs a list of at most %d values", maxInValues)
		}
		s.values, s.value = list, nil
	case "like":
		pat, ok := s.value.(string)
		if !ok || len(pat) > MaxStringLen {
			return nil, fmt.Errorf("like needs a string pattern")
		}
		re := "^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(pat), "%", ".*"), "_", ".") + "$"
		s.like = regexp.MustCompile(re)
	default:
		switch s.value.(type) {
		case string, json.Number, bool, nil:
		default:
			return nil, fmt.Errorf("%s needs a scalar value", key)
		}
	}
	return s, nil
}

// ResourceInfo is what a search and the by-resources rule see of a resource.
type ResourceInfo struct {
	ID, ProjectID, UserID string
	Started               time.Time
	Metadata              map[string]string
}

// Match reports whether r satisfies the search.
func (s *Search) Match(r *ResourceInfo) bool {
	switch s.op {
	case "and":
		for _, k := range s.kids {
			if !k.Match(r) {
				return false
			}
		}
		return true
	case "or":
		for _, k := range s.kids {
			if k.Match(r) {
				return true
			}
		}
		return false
	case "not":
		return !s.kids[0].Match(r)
	}
	have, present := resourceField(r, s.field)
	switch s.op {
	case "in":
		for _, v := range s.values {
			if c, ok := cmpSearch(have, present, v); ok && c == 0 {
				return true
			}
		}
		return false
	case "like":
		return present && s.like.MatchString(have)
	}
	c, ok := cmpSearch(have, present, s.value)
	if s.op == "!=" {
		return !ok || c != 0
	}
	if !ok {
		return false
	}
	switch s.op {
	case "=":
		return c == 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

func resourceField(r *ResourceInfo, f string) (string, bool) {
	switch f {
	case "id", "resource_id", "original_resource_id":
		return r.ID, true
	case "project_id", "created_by_project_id":
		return r.ProjectID, true
	case "user_id", "created_by_user_id":
		return r.UserID, true
	case "started_at":
		if r.Started.IsZero() {
			return "", false
		}
		return r.Started.UTC().Format(time.RFC3339Nano), true
	case "ended_at", "revision_end":
		return "", false
	}
	v, ok := r.Metadata[f]
	return v, ok
}

// cmpSearch compares a resource's field (have; absent means null) with a
// search literal. ok is false when they cannot be compared.
func cmpSearch(have string, present bool, want any) (int, bool) {
	if want == nil {
		if !present {
			return 0, true
		}
		return 1, false
	}
	if !present {
		return 0, false
	}
	switch w := want.(type) {
	case json.Number:
		hf, err1 := strconv.ParseFloat(have, 64)
		wf, err2 := w.Float64()
		if err1 != nil || err2 != nil {
			return strings.Compare(have, w.String()), true
		}
		switch {
		case hf < wf:
			return -1, true
		case hf > wf:
			return 1, true
		}
		return 0, true
	case bool:
		hb, err := strconv.ParseBool(have)
		if err != nil {
			return 0, false
		}
		if hb == w {
			return 0, true
		}
		return 1, true
	case string:
		if ht, err := parseTime(have); err == nil {
			if wt, err := parseTime(w); err == nil {
				return ht.Compare(wt), true
			}
		}
		return strings.Compare(have, w), true
	}
	return 0, false
}

// globMatch is fnmatch: *, ? and [...] (path.Match without the special
// meaning of '/').
func globMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?[\\") {
		return pattern == s
	}
	// path.Match treats '/' as a separator; fnmatch does not. Replace it in
	// both with a byte that cannot appear in valid UTF-8 text.
	p := strings.ReplaceAll(pattern, "/", "\x00")
	t := strings.ReplaceAll(s, "/", "\x00")
	ok, err := path.Match(p, t)
	return err == nil && ok
}

func parseInt(s string) (int64, error) { return strconv.ParseInt(strings.TrimSpace(s), 10, 64) }
func parseFloat(s string) (float64, error) {
	return strconv.ParseFloat(strings.TrimSpace(s), 64)
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true, nil
	case "0", "f", "false", "off", "n", "no":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean")
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not an ISO 8601 time")
}
