package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/sample"
)

// queryScope says which fields a simple query may name on an endpoint and
// whether conditions the store cannot index are allowed (they are where the
// store applies ListOptions.Match: sample listings).
type queryScope struct {
	endpoint  string
	fields    []string // canonical names; metadata is always allowed
	timestamp bool
	residual  bool
}

var (
	samplesScope = queryScope{
		endpoint:  "samples",
		fields:    []string{fieldName, fieldResource, fieldProject, fieldUser, fieldSource, fieldMessageID},
		timestamp: true, residual: true,
	}
	statisticsScope = queryScope{
		endpoint:  "statistics",
		fields:    []string{fieldName, fieldResource, fieldProject, fieldUser, fieldSource},
		timestamp: true,
	}
	metersScope = queryScope{
		endpoint: "meters",
		fields:   []string{fieldName, fieldResource, fieldProject, fieldUser, fieldSource},
	}
	resourcesScope = queryScope{
		endpoint:  "resources",
		fields:    []string{fieldName, fieldResource, fieldProject, fieldUser, fieldSource},
		timestamp: true,
	}
)

// simpleFieldNames are the spellings a simple query accepts, as Ceilometer.
var simpleFieldNames = map[string]string{
	"meter": fieldName, "counter_name": fieldName,
	"resource": fieldResource, "resource_id": fieldResource,
	"project": fieldProject, "project_id": fieldProject,
	"user": fieldUser, "user_id": fieldUser,
	"source":     fieldSource,
	"timestamp":  fieldTimestamp,
	"message_id": fieldMessageID,
}

var simpleOps = map[string]string{
	"eq": opEq, "ne": opNe, "lt": opLt, "le": opLe, "gt": opGt, "ge": opGe,
}

const searchOffsetField = "search_offset"

// simpleQuery is a parsed q.field/q.op/q.value/q.type list.
type simpleQuery struct {
	root *expr // nil when empty
	// offset widens the timestamp bounds on both sides (search_offset).
	offset time.Duration
	// start and end are the timestamp bounds as given, for statistics'
	// duration clamping; zero when absent.
	start, end time.Time
}

// simpleTerm is one condition of a simple query (Ceilometer's, Panko's
// and Aodh's): the q.field, q.op (eq when absent or empty), q.value and
// q.type at one position.
type simpleTerm struct {
	field, op, value, typ string
}

// simpleTerms pairs the q.field, q.op, q.value and q.type lists of a
// simple query by position. Another q.* parameter, or lists that do not
// pair up (q.op and q.type may be left out), is ErrBadRequest.
func simpleTerms(params url.Values) ([]simpleTerm, error) {
	fields, ops, values, types := params["q.field"], params["q.op"], params["q.value"], params["q.type"]
	for k := range params {
		if strings.HasPrefix(k, "q.") && k != "q.field" && k != "q.op" && k != "q.value" && k != "q.type" {
			return nil, fmt.Errorf("%w: unknown query parameter %s", ErrBadRequest, k)
		}
	}
	if len(values) != len(fields) {
		return nil, fmt.Errorf("%w: %d q.field but %d q.value parameters", ErrBadRequest, len(fields), len(values))
	}
	if len(ops) != 0 && len(ops) != len(fields) {
		return nil, fmt.Errorf("%w: %d q.field but %d q.op parameters", ErrBadRequest, len(fields), len(ops))
	}
	if len(types) != 0 && len(types) != len(fields) {
		return nil, fmt.Errorf("%w: %d q.field but %d q.type parameters", ErrBadRequest, len(fields), len(types))
	}
	out := make([]simpleTerm, len(fields))
	for i, name := range fields {
		out[i] = simpleTerm{field: name, op: "eq", value: values[i]}
		if len(ops) > 0 && ops[i] != "" {
			out[i].op = ops[i]
		}
		if len(types) > 0 {
			out[i].typ = types[i]
		}
	}
	return out, nil
}

// parseSimpleQuery parses Ceilometer's simple query parameters: repeated
// q.field, q.op (eq ne lt le gt ge; default eq), q.value and q.type
// (string integer float boolean datetime), paired by position.
func parseSimpleQuery(params url.Values, sc queryScope) (simpleQuery, error) {
	var out simpleQuery
	terms, err := simpleTerms(params)
	if err != nil {
		return out, err
	}
	var leaves []*expr
	hasTimestamp, hasOffset := false, false
	for _, t := range terms {
		name, op, typ := t.field, t.op, t.typ
		if name == searchOffsetField {
			if !sc.timestamp {
				return out, fmt.Errorf("%w: field %s is not valid for %s", ErrBadRequest, name, sc.endpoint)
			}
			if op != "eq" {
				return out, fmt.Errorf("%w: operator %s is not supported for field %s", ErrBadRequest, op, name)
			}
			n, err := strconv.Atoi(t.value)
			if err != nil || n < 0 || n > 1e6 {
				return out, fmt.Errorf("%w: field %s wants a number of minutes, got %q", ErrBadRequest, name, t.value)
			}
			out.offset, hasOffset = time.Duration(n)*time.Minute, true
			continue
		}
		field, ok := simpleFieldNames[name]
		if !ok {
			field = canonicalField(name)
			if !strings.HasPrefix(field, metaPrefix) {
				field = ""
			}
		}
		if field == "" || (field != fieldTimestamp && !strings.HasPrefix(field, metaPrefix) && !slices.Contains(sc.fields, field)) {
			return out, fmt.Errorf("%w: unknown field %s in query for %s", ErrBadRequest, name, sc.endpoint)
		}
		if field == fieldTimestamp && !sc.timestamp {
			return out, fmt.Errorf("%w: field timestamp is not valid for %s", ErrBadRequest, sc.endpoint)
		}
		sym, ok := simpleOps[op]
		if !ok {
			return out, fmt.Errorf("%w: unknown operator %s for field %s (want eq, ne, lt, le, gt or ge)", ErrBadRequest, op, name)
		}
		v, err := simpleValue(field, sym, t.value, typ)
		if err != nil {
			return out, fmt.Errorf("%w: field %s: %w", ErrBadRequest, name, err)
		}
		leaf, err := newLeaf(sym, field, []value{v})
		if err != nil {
			return out, err
		}
		if field == fieldTimestamp {
			hasTimestamp = true
			switch sym {
			case opGt, opGe:
				out.start = v.t
			case opLt, opLe:
				out.end = v.t
			}
		}
		leaves = append(leaves, leaf)
	}
	if hasOffset && !hasTimestamp {
		return out, fmt.Errorf("%w: field search_offset cannot be used without timestamp", ErrBadRequest)
	}
	switch len(leaves) {
	case 0:
	case 1:
		out.root = leaves[0]
	default:
		out.root = &expr{op: opAnd, kids: leaves}
	}
	return out, nil
}

// errValue is the cause of a value that does not convert to its type.
var errValue = errors.New("bad value")

// simpleValue converts a q.value for field and op, after q.type.
func simpleValue(field, op, raw, typ string) (value, error) {
	typed := value{kind: valString, s: raw}
	switch typ {
	case "", "string":
	case "integer":
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return value{}, fmt.Errorf("%w: unable to convert %q to integer", errValue, raw)
		}
		typed = value{kind: valNumber, s: strconv.FormatInt(n, 10), f: float64(n)}
	case "float":
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return value{}, fmt.Errorf("%w: unable to convert %q to float", errValue, raw)
		}
		typed = value{kind: valNumber, s: strings.TrimSpace(raw), f: f}
	case "boolean":
		b, err := parseBoolStrict(raw)
		if err != nil {
			return value{}, err
		}
		typed = value{kind: valBool, s: strconv.FormatBool(b), b: b}
	case "datetime":
		t, err := sample.ParseISOTime(raw)
		if err != nil {
			return value{}, fmt.Errorf("%w: %v", errValue, err)
		}
		typed = value{kind: valTime, s: raw, t: t}
	default:
		return value{}, fmt.Errorf("%w: data type %q is not supported (want string, integer, float, boolean or datetime)", errValue, typ)
	}
	switch kindOf(field) {
	case kindTime:
		t, err := sample.ParseISOTime(raw)
		if err != nil {
			return value{}, fmt.Errorf("%w: %v", errValue, err)
		}
		return value{kind: valTime, s: raw, t: t}, nil
	case kindMeta:
		if op == opEq || op == opNe || typed.kind == valString {
			// Stored metadata is text, Python's str() of the value
			// (sample.FlattenMetadata); compare with the typed value's
			// text in that form (True, 1.0) so the store can index it.
			if typ == "" {
				if f, err := strconv.ParseFloat(raw, 64); err == nil && op != opEq && op != opNe {
					return value{kind: valNumber, s: raw, f: f}, nil
				}
			}
			switch typ {
			case "boolean":
				return value{kind: valString, s: sample.PythonStr(typed.b)}, nil
			case "float":
				return value{kind: valString, s: sample.PythonFloat(typed.f)}, nil
			}
			return value{kind: valString, s: typed.s}, nil
		}
		return typed, nil
	}
	return value{kind: valString, s: raw}, nil
}

// parseBoolStrict accepts what oslo's strict bool_from_string accepts.
func parseBoolStrict(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true, nil
	case "0", "f", "false", "off", "n", "no":
		return false, nil
	}
	return false, fmt.Errorf("%w: unable to convert %q to boolean", errValue, s)
}

// planQuery turns a parsed query into a store plan for an endpoint, applying
// the member scope and search_offset; a residual is an error where the
// endpoint cannot post-filter.
func planQuery(q simpleQuery, sc queryScope, scope string) (plan, error) {
	p := newPlan(q.root)
	if err := p.confine(scope, q.root); err != nil {
		return p, err
	}
	if !sc.residual && len(p.residual) > 0 {
		e := p.residual[0]
		return p, fmt.Errorf("%w: condition %s %s %s cannot be used on %s (only equality, and ranges on timestamp)",
			ErrBadRequest, e.field, e.op, e.values[0], sc.endpoint)
	}
	if q.offset > 0 {
		if !p.filter.Start.IsZero() {
			p.filter.Start = p.filter.Start.Add(-q.offset)
		}
		if !p.filter.End.IsZero() {
			p.filter.End = p.filter.End.Add(q.offset)
		}
	}
	return p, nil
}

// complexQuery is the body of POST /v2/query/samples. filter and orderby are
// JSON-encoded strings, as Ceilometer takes them; a JSON object or array in
// their place is accepted too.
type complexQuery struct {
	Filter  json.RawMessage `json:"filter"`
	OrderBy json.RawMessage `json:"orderby"`
	// Limit is a JSON integer or a numeric string (parseBodyLimit).
	Limit json.RawMessage `json:"limit"`
	// Marker is the message_id of the last row of the previous page.
	Marker string `json:"marker"`
}

// parseBodyLimit reads the limit member of a query body as WSME's int type
// does: a JSON integer, or a string holding one (python-ceilometerclient's
// query-samples -l N sends "limit": "N"; Python's int() allows surrounding
// white space). It must be positive; the caller bounds it (api max_limit).
// An absent or null limit is 0.
func parseBodyLimit(raw json.RawMessage) (int64, error) {
	text := string(bytes.TrimSpace(raw))
	if text == "" || text == "null" {
		return 0, nil
	}
	if strings.HasPrefix(text, `"`) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, refuse(refusedLimit, fmt.Errorf("%w: limit: %v", ErrBadRequest, err))
		}
		text = strings.TrimSpace(s)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil || n <= 0 {
		return 0, refuse(refusedLimit, fmt.Errorf("%w: limit must be a positive integer or a string holding one, got %s", ErrBadRequest, bytes.TrimSpace(raw)))
	}
	return n, nil
}

// decodedComplex is a validated complex query.
type decodedComplex struct {
	root    *expr
	orderBy []store.Order
	limit   int
	marker  string
}

// maxDepth bounds the nesting of a complex filter.
const maxDepth = 64

// decodeComplexQuery decodes and validates a complex query body.
func decodeComplexQuery(body []byte) (decodedComplex, error) {
	var out decodedComplex
	var q complexQuery
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return out, fmt.Errorf("%w: query body: %v", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return out, fmt.Errorf("%w: query body: trailing data after the object", ErrBadRequest)
	}
	n, err := parseBodyLimit(q.Limit)
	if err != nil {
		return out, err
	}
	out.limit = int(n)
	out.marker = q.Marker
	if raw, err := unwrapJSONString(q.Filter, "filter"); err != nil {
		return out, err
	} else if raw != nil {
		root, err := decodeFilter(raw)
		if err != nil {
			return out, err
		}
		out.root = root
	}
	if raw, err := unwrapJSONString(q.OrderBy, "orderby"); err != nil {
		return out, err
	} else if raw != nil {
		ob, err := decodeOrderBy(raw)
		if err != nil {
			return out, err
		}
		out.orderBy = ob
	}
	return out, nil
}

// unwrapJSONString returns the JSON text a body member holds: the content of
// a string, or the member itself; nil when absent or null.
func unwrapJSONString(raw json.RawMessage, name string) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '"' {
		return raw, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadRequest, name, err)
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return []byte(s), nil
}

// decodeFilter decodes a complex filter expression over samples.
func decodeFilter(raw []byte) (*expr, error) { return decodeFilterOf(raw, sampleFields) }

// queryFields is the field vocabulary of a complex filter: the canonical
// name of a spelling ("" when unknown) and the conversion of a literal for
// a field. Samples use sampleFields; alarms and their history theirs.
type queryFields struct {
	canonical func(name string) string
	convert   func(field string, v value) (value, error)
}

var sampleFields = queryFields{canonical: canonicalField, convert: convertLiteral}

// decodeFilterOf decodes a complex filter expression over fs.
func decodeFilterOf(raw []byte, fs queryFields) (*expr, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: filter expression not valid: %v", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: filter expression not valid: trailing data", ErrBadRequest)
	}
	return filterNode(v, 0, fs)
}

// single returns the one key and value of a one-member object.
func single(v any, what string) (string, any, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, fmt.Errorf("%w: filter expression not valid: %s must be an object with exactly one member, got %s", ErrBadRequest, what, describe(v))
	}
	for k, x := range m {
		return k, x, nil
	}
	return "", nil, nil // unreachable
}

func describe(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return fmt.Sprintf("an object with %d members", len(x))
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

var complexOps = map[string]string{
	"=": opEq, "!=": opNe, "<": opLt, "<=": opLe, "=<": opLe, ">": opGt, ">=": opGe, "=>": opGe,
	"=~": opRegex, "in": opIn,
}

func filterNode(v any, depth int, fs queryFields) (*expr, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: filter expression not valid: nested deeper than %d", ErrBadRequest, maxDepth)
	}
	key, arg, err := single(v, "a condition")
	if err != nil {
		return nil, err
	}
	op := strings.ToLower(key)
	switch op {
	case opAnd, opOr:
		list, ok := arg.([]any)
		if !ok || len(list) < 2 {
			return nil, fmt.Errorf("%w: filter expression not valid: %s wants an array of at least 2 conditions", ErrBadRequest, op)
		}
		e := &expr{op: op, kids: make([]*expr, len(list))}
		for i, x := range list {
			if e.kids[i], err = filterNode(x, depth+1, fs); err != nil {
				return nil, err
			}
		}
		return e, nil
	case opNot:
		kid, err := filterNode(arg, depth+1, fs)
		if err != nil {
			return nil, err
		}
		return &expr{op: opNot, kids: []*expr{kid}}, nil
	}
	sym, ok := complexOps[op]
	if !ok {
		return nil, fmt.Errorf("%w: filter expression not valid: unknown operator %q", ErrBadRequest, key)
	}
	name, lit, err := single(arg, "the operand of "+key)
	if err != nil {
		return nil, err
	}
	field := fs.canonical(name)
	if field == "" {
		return nil, fmt.Errorf("%w: filter expression not valid: unknown field %q", ErrBadRequest, name)
	}
	var raws []any
	if sym == opIn {
		list, ok := lit.([]any)
		if !ok || len(list) == 0 {
			return nil, fmt.Errorf("%w: filter expression not valid: in on %s wants a non-empty array", ErrBadRequest, name)
		}
		raws = list
	} else {
		raws = []any{lit}
	}
	values := make([]value, len(raws))
	for i, r := range raws {
		var lv value
		switch x := r.(type) {
		case string:
			lv = value{kind: valString, s: x}
		case json.Number:
			f, err := strconv.ParseFloat(string(x), 64)
			if err != nil {
				return nil, fmt.Errorf("%w: field %s: number %s is out of range", ErrBadRequest, name, x)
			}
			lv = value{kind: valNumber, s: string(x), f: f}
		case bool:
			if sym == opIn {
				return nil, fmt.Errorf("%w: field %s: in takes strings and numbers", ErrBadRequest, name)
			}
			lv = value{kind: valBool, s: strconv.FormatBool(x), b: x}
		default:
			return nil, fmt.Errorf("%w: field %s wants a string, number or boolean, got %s", ErrBadRequest, name, describe(r))
		}
		if values[i], err = fs.convert(field, lv); err != nil {
			return nil, err
		}
	}
	return newLeaf(sym, field, values)
}

// orderFields are the fields a complex query may order by.
var orderFields = []string{
	fieldTimestamp, fieldRecorded, fieldVolume, fieldName, fieldUnit, fieldType,
	fieldResource, fieldProject, fieldUser, fieldSource, fieldMessageID,
}

// decodeOrderBy decodes [{"field": "asc|desc"}, ...].
func decodeOrderBy(raw []byte) ([]store.Order, error) {
	var list []map[string]string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%w: order-by expression not valid: want an array of {\"field\": \"asc|desc\"}: %v", ErrBadRequest, err)
	}
	if len(list) > len(orderFields) {
		return nil, fmt.Errorf("%w: order-by expression not valid: %d terms, at most %d", ErrBadRequest, len(list), len(orderFields))
	}
	out := make([]store.Order, 0, len(list))
	for _, m := range list {
		if len(m) != 1 {
			return nil, fmt.Errorf("%w: order-by expression not valid: each term must have exactly one field", ErrBadRequest)
		}
		for name, dir := range m {
			field := canonicalField(name)
			if !slices.Contains(orderFields, field) {
				return nil, fmt.Errorf("%w: order-by expression not valid: cannot order by %q", ErrBadRequest, name)
			}
			if slices.ContainsFunc(out, func(o store.Order) bool { return o.Field == field }) {
				return nil, fmt.Errorf("%w: order-by expression not valid: field %s is given more than once", ErrBadRequest, name)
			}
			var desc bool
			switch strings.ToLower(dir) {
			case "asc":
			case "desc":
				desc = true
			default:
				return nil, fmt.Errorf("%w: order-by expression not valid: field %s: direction %q (want asc or desc)", ErrBadRequest, name, dir)
			}
			out = append(out, store.Order{Field: field, Desc: desc})
		}
	}
	return out, nil
}
