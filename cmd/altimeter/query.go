package main

import (
	"fmt"
	"net/url"
	"strings"
)

// queryItem is one simple-query term, as Ceilometer's q.field/q.op/q.type/
// q.value parameters carry it.
type queryItem struct {
	Field string
	Op    string // lt, le, eq, ne, ge, gt
	Type  string // "", string, integer, float, datetime, boolean
	Value string
}

// queryOps maps the CLI operators to Ceilometer's, two-character ones first
// so "a<=1" splits at "<=" and not at "<".
var queryOps = []struct{ sym, op string }{
	{"<=", "le"}, {">=", "ge"}, {"!=", "ne"},
	{"=", "eq"}, {"<", "lt"}, {">", "gt"},
}

// queryTypes are the data types a value may be prefixed with (type::value).
var queryTypes = []string{"string", "integer", "float", "datetime", "boolean"}

// parseQuery reads python-ceilometerclient's -q syntax:
// "field<op>value;field2<op>type::value2", op one of <=, >=, !=, =, <, >.
// The first operator in a term splits it; empty terms (a trailing ";") are
// skipped.
func parseQuery(s string) ([]queryItem, error) {
	var out []queryItem
	for _, term := range strings.Split(s, ";") {
		if strings.TrimSpace(term) == "" {
			continue
		}
		field, sym, op, value, ok := splitOp(term)
		if !ok {
			return nil, fmt.Errorf("bad query term %q: missing operator (one of <=, >=, !=, =, <, >)", term)
		}
		field = strings.TrimSpace(field)
		if field == "" {
			return nil, fmt.Errorf("bad query term %q: missing field before %q", term, sym)
		}
		if value == "" {
			return nil, fmt.Errorf("bad query term %q: missing value after %q", term, sym)
		}
		it := queryItem{Field: field, Op: op, Value: value}
		for _, t := range queryTypes {
			if v, found := strings.CutPrefix(value, t+"::"); found && v != "" {
				it.Type, it.Value = t, v
				break
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// splitOp finds the leftmost operator in term.
func splitOp(term string) (field, sym, op, value string, ok bool) {
	for i := 0; i < len(term); i++ {
		for _, o := range queryOps {
			if strings.HasPrefix(term[i:], o.sym) {
				return term[:i], o.sym, o.op, term[i+len(o.sym):], true
			}
		}
	}
	return "", "", "", "", false
}

// queryValues encodes items as Ceilometer's parallel q.* lists (q.type is
// sent empty when not given, as python-ceilometerclient does).
func queryValues(items []queryItem) url.Values {
	v := url.Values{}
	for _, it := range items {
		v.Add("q.field", it.Field)
		v.Add("q.op", it.Op)
		v.Add("q.type", it.Type)
		v.Add("q.value", it.Value)
	}
	return v
}
