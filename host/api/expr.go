package api

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/sample"
)

// A query, simple (q.field/q.op/q.value) or complex (POST /v2/query/samples),
// is decoded into an expression tree of canonical field names; plan then
// pushes what the store indexes into a store.Filter and compiles the rest
// into a predicate.

// The canonical field names, as Ceilometer's sample model names them.
const (
	fieldName      = "counter_name"
	fieldType      = "counter_type"
	fieldUnit      = "counter_unit"
	fieldVolume    = "counter_volume"
	fieldResource  = "resource_id"
	fieldProject   = "project_id"
	fieldUser      = "user_id"
	fieldSource    = "source"
	fieldTimestamp = "timestamp"
	fieldRecorded  = "recorded_at"
	fieldMessageID = "message_id"
	fieldSignature = "message_signature"
	metaPrefix     = "resource_metadata."
)

// fieldAliases maps every accepted spelling to its canonical name.
var fieldAliases = map[string]string{
	"counter_name": fieldName, "meter": fieldName,
	"counter_type": fieldType, "type": fieldType,
	"counter_unit": fieldUnit, "unit": fieldUnit,
	"counter_volume": fieldVolume, "volume": fieldVolume,
	"resource_id": fieldResource, "resource": fieldResource,
	"project_id": fieldProject, "project": fieldProject,
	"user_id": fieldUser, "user": fieldUser,
	"source":      fieldSource,
	"timestamp":   fieldTimestamp,
	"recorded_at": fieldRecorded,
	"message_id":  fieldMessageID, "id": fieldMessageID,
	"message_signature": fieldSignature,
}

// canonicalField returns the canonical name of a field, "" when unknown.
// metadata.X and resource_metadata.X both become resource_metadata.X.
func canonicalField(name string) string {
	if f, ok := fieldAliases[name]; ok {
		return f
	}
	for _, p := range []string{"resource_metadata.", "metadata."} {
		if k, ok := strings.CutPrefix(name, p); ok && k != "" {
			return metaPrefix + k
		}
	}
	return ""
}

// fieldKind says how a field's values compare.
type fieldKind int

const (
	kindString fieldKind = iota
	kindNumber
	kindTime
	kindMeta
)

func kindOf(field string) fieldKind {
	switch {
	case field == fieldVolume:
		return kindNumber
	case field == fieldTimestamp || field == fieldRecorded:
		return kindTime
	case strings.HasPrefix(field, metaPrefix):
		return kindMeta
	}
	return kindString
}

// valueKind is the type of a literal in a query.
type valueKind int

const (
	valString valueKind = iota
	valNumber
	valBool
	valTime
)

// value is one literal of a query, converted for its field.
type value struct {
	kind valueKind
	s    string // the string, or the literal as written
	f    float64
	b    bool
	t    time.Time
}

func (v value) String() string { return v.s }

// The operators of a leaf.
const (
	opEq    = "="
	opNe    = "!="
	opLt    = "<"
	opLe    = "<="
	opGt    = ">"
	opGe    = ">="
	opRegex = "=~"
	opIn    = "in"
	opAnd   = "and"
	opOr    = "or"
	opNot   = "not"
)

// expr is a node of a query: and/or (kids), not (one kid), or a leaf
// comparing field with values (one value, several for in).
type expr struct {
	op     string
	kids   []*expr
	field  string
	values []value
	re     *regexp.Regexp
}

func (e *expr) leaf() bool { return e.op != opAnd && e.op != opOr && e.op != opNot }

// walk calls fn on every leaf of e.
func (e *expr) walk(fn func(*expr) error) error {
	if e.leaf() {
		return fn(e)
	}
	for _, k := range e.kids {
		if err := k.walk(fn); err != nil {
			return err
		}
	}
	return nil
}

// maxRegexBytes bounds the pattern of an =~ condition: compiling and
// matching cost grow with it.
const maxRegexBytes = 1024

// newLeaf checks a leaf's operator against its field and compiles regexps.
func newLeaf(op, field string, values []value) (*expr, error) {
	e := &expr{op: op, field: field, values: values}
	kind := kindOf(field)
	switch op {
	case opRegex:
		if kind == kindNumber || kind == kindTime {
			return nil, fmt.Errorf("%w: operator =~ is not supported for field %s", ErrBadRequest, field)
		}
		if values[0].kind != valString {
			return nil, fmt.Errorf("%w: field %s: =~ wants a string pattern", ErrBadRequest, field)
		}
		if n := len(values[0].s); n > maxRegexBytes {
			return nil, fmt.Errorf("%w: field %s: regular expression of %d bytes, more than the maximum %d", ErrBadRequest, field, n, maxRegexBytes)
		}
		re, err := regexp.Compile(values[0].s)
		if err != nil {
			return nil, fmt.Errorf("%w: field %s: bad regular expression: %v", ErrBadRequest, field, err)
		}
		e.re = re
	case opEq, opNe, opLt, opLe, opGt, opGe, opIn:
	default:
		return nil, fmt.Errorf("%w: unknown operator %q", ErrBadRequest, op)
	}
	return e, nil
}

// convertLiteral converts a literal (a string, a number with its text, a
// bool) for field: string fields want text, counter_volume a number,
// timestamps ISO 8601; metadata keeps the literal's own type.
func convertLiteral(field string, v value) (value, error) {
	switch kindOf(field) {
	case kindString:
		if v.kind == valBool {
			return value{}, fmt.Errorf("%w: field %s wants a string, got %s", ErrBadRequest, field, v.s)
		}
		return value{kind: valString, s: v.s}, nil
	case kindNumber:
		if v.kind == valNumber {
			return v, nil
		}
		if v.kind == valString {
			f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
			if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				return value{kind: valNumber, s: v.s, f: f}, nil
			}
		}
		return value{}, fmt.Errorf("%w: field %s wants a number, got %q", ErrBadRequest, field, v.s)
	case kindTime:
		if v.kind != valString {
			return value{}, fmt.Errorf("%w: field %s wants an ISO 8601 timestamp, got %s", ErrBadRequest, field, v.s)
		}
		t, err := sample.ParseISOTime(v.s)
		if err != nil {
			return value{}, fmt.Errorf("%w: field %s: %v", ErrBadRequest, field, err)
		}
		return value{kind: valTime, s: v.s, t: t}, nil
	}
	return v, nil // metadata keeps the literal's own type
}

// predicate compiles e into a function over a stored sample.
func predicate(e *expr) func(*store.Sample) bool {
	switch e.op {
	case opAnd:
		ps := make([]func(*store.Sample) bool, len(e.kids))
		for i, k := range e.kids {
			ps[i] = predicate(k)
		}
		return func(s *store.Sample) bool {
			for _, p := range ps {
				if !p(s) {
					return false
				}
			}
			return true
		}
	case opOr:
		ps := make([]func(*store.Sample) bool, len(e.kids))
		for i, k := range e.kids {
			ps[i] = predicate(k)
		}
		return func(s *store.Sample) bool {
			for _, p := range ps {
				if p(s) {
					return true
				}
			}
			return false
		}
	case opNot:
		p := predicate(e.kids[0])
		return func(s *store.Sample) bool { return !p(s) }
	}
	return func(s *store.Sample) bool { return evalLeaf(e, s) }
}

// fieldValue returns a sample's value for field; ok is false when the
// sample has none (a metadata key it lacks).
func fieldValue(s *store.Sample, field string) (v value, ok bool) {
	str := func(x string) (value, bool) { return value{kind: valString, s: x}, true }
	switch field {
	case fieldName:
		return str(s.Name)
	case fieldType:
		return str(s.Type.String())
	case fieldUnit:
		return str(s.Unit)
	case fieldResource:
		return str(s.ResourceID)
	case fieldProject:
		return str(s.ProjectID)
	case fieldUser:
		return str(s.UserID)
	case fieldSource:
		return str(s.Source)
	case fieldMessageID:
		return str(s.MessageID)
	case fieldSignature:
		return str(s.Signature)
	case fieldVolume:
		return value{kind: valNumber, f: s.Volume}, true
	case fieldTimestamp:
		return value{kind: valTime, t: s.Timestamp}, true
	case fieldRecorded:
		return value{kind: valTime, t: s.RecordedAt}, true
	}
	m, found := s.Metadata[strings.TrimPrefix(field, metaPrefix)]
	if !found {
		return value{}, false
	}
	return value{kind: valString, s: m}, true
}

// compare orders a sample's value against a literal: -1, 0, 1; ok is false
// when they cannot be compared (a metadata value that is not a number
// against a number).
func compare(have, want value) (int, bool) {
	switch want.kind {
	case valNumber:
		h := have.f
		if have.kind == valString {
			f, err := strconv.ParseFloat(have.s, 64)
			if err != nil {
				return 0, false
			}
			h = f
		}
		switch {
		case h < want.f:
			return -1, true
		case h > want.f:
			return 1, true
		}
		return 0, true
	case valBool:
		b, err := strconv.ParseBool(have.s)
		if err != nil {
			return 0, false
		}
		switch {
		case b == want.b:
			return 0, true
		case !b:
			return -1, true
		}
		return 1, true
	case valTime:
		if have.kind == valTime {
			return have.t.Compare(want.t), true
		}
		t, err := sample.ParseISOTime(have.s)
		if err != nil {
			return strings.Compare(have.s, want.s), true
		}
		return t.Compare(want.t), true
	}
	return strings.Compare(have.s, want.s), true
}

func evalLeaf(e *expr, s *store.Sample) bool {
	have, ok := fieldValue(s, e.field)
	if !ok {
		return false // a missing metadata key matches nothing, as SQL NULL
	}
	return leafHolds(e, have)
}

// leafHolds evaluates leaf e on a row's value of its field.
func leafHolds(e *expr, have value) bool {
	switch e.op {
	case opRegex:
		return e.re.MatchString(have.s)
	case opIn:
		for _, w := range e.values {
			if c, ok := compare(have, w); ok && c == 0 {
				return true
			}
		}
		return false
	}
	c, ok := compare(have, e.values[0])
	if !ok {
		return false
	}
	switch e.op {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	}
	return false
}

// plan is a query split for the store: what it indexes, and the rest.
type plan struct {
	filter   store.Filter
	residual []*expr // ANDed
}

// match returns the residual as a predicate, nil when there is none.
func (p *plan) match() func(*store.Sample) bool {
	if len(p.residual) == 0 {
		return nil
	}
	return predicate(&expr{op: opAnd, kids: p.residual})
}

// newPlan extracts from the top-level AND of root the conditions the store
// indexes (= on meter, resource, project, user, source and string metadata;
// timestamp bounds) and keeps the rest as residual. root may be nil.
func newPlan(root *expr) plan {
	var p plan
	var conj []*expr
	var flatten func(e *expr)
	flatten = func(e *expr) {
		if e.op == opAnd {
			for _, k := range e.kids {
				flatten(k)
			}
			return
		}
		conj = append(conj, e)
	}
	if root != nil {
		flatten(root)
	}
	for _, e := range conj {
		if !p.push(e) {
			p.residual = append(p.residual, e)
		}
	}
	return p
}

// push moves a leaf into the filter when the filter can express it.
func (p *plan) push(e *expr) bool {
	if !e.leaf() {
		return false
	}
	f := &p.filter
	if e.field == fieldTimestamp {
		t := e.values[0].t
		switch e.op {
		case opGe:
			f.Start = later(f.Start, t)
		case opGt:
			f.Start = later(f.Start, t.Add(time.Microsecond))
		case opLt:
			f.End = earlier(f.End, t)
		case opLe:
			f.End = earlier(f.End, t.Add(time.Microsecond))
		case opEq:
			f.Start = later(f.Start, t)
			f.End = earlier(f.End, t.Add(time.Microsecond))
		default:
			return false
		}
		return true
	}
	if e.op != opEq || e.values[0].kind != valString {
		return false
	}
	v := e.values[0].s
	if v == "" {
		return false // a zero Filter field does not filter
	}
	set := func(dst *string) bool {
		if *dst == "" {
			*dst = v
			return true
		}
		return *dst == v
	}
	switch e.field {
	case fieldName:
		return set(&f.Meter)
	case fieldResource:
		return set(&f.ResourceID)
	case fieldProject:
		return set(&f.ProjectID)
	case fieldUser:
		return set(&f.UserID)
	case fieldSource:
		return set(&f.Source)
	}
	if k, ok := strings.CutPrefix(e.field, metaPrefix); ok {
		if f.Metadata == nil {
			f.Metadata = map[string]string{}
		}
		if have, dup := f.Metadata[k]; dup {
			return have == v
		}
		f.Metadata[k] = v
		return true
	}
	return false
}

func later(a, b time.Time) time.Time {
	if a.IsZero() || b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// confine applies a member's project scope to p: every condition naming a
// project must name scope (else ErrForbidden), and the filter is set to it.
// An empty scope (admin) leaves p as it is.
func (p *plan) confine(scope string, root *expr) error {
	if scope == "" {
		return nil
	}
	if p.filter.ProjectID != "" && p.filter.ProjectID != scope {
		return fmt.Errorf("%w: project %s is not yours", ErrForbidden, p.filter.ProjectID)
	}
	if root != nil {
		err := root.walk(func(e *expr) error {
			if e.field != fieldProject {
				return nil
			}
			for _, v := range e.values {
				if v.s != scope {
					return fmt.Errorf("%w: project %s is not yours", ErrForbidden, v.s)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	p.filter.ProjectID = scope
	return nil
}
