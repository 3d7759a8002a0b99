package rule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// CompositeRule is a nested and/or of rules of the polled types
// (threshold, the gnocchi rules, prometheus). A node is either an operator
// (Op "and" or "or" with Children) or a leaf (Leaf set).
type CompositeRule struct {
	Op       string
	Children []*CompositeRule
	Leaf     Rule
}

// Type implements Rule.
func (r *CompositeRule) Type() string { return TypeComposite }

// MarshalJSON renders the rule as Aodh stores it: {"and": [...]} or
// {"or": [...]}, leaves as their rule fields plus "type".
func (r *CompositeRule) MarshalJSON() ([]byte, error) {
	if r.Leaf != nil {
		b, err := r.Leaf.MarshalJSON()
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		m["type"] = r.Leaf.Type()
		return json.Marshal(m)
	}
	return json.Marshal(map[string][]*CompositeRule{r.Op: r.Children})
}

// Leaves returns the leaf rules in order (rule1, rule2, ... as Aodh names
// them in reasons).
func (r *CompositeRule) Leaves() []Rule {
	var out []Rule
	var walk func(*CompositeRule)
	walk = func(n *CompositeRule) {
		if n.Leaf != nil {
			out = append(out, n.Leaf)
			return
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(r)
	return out
}

// compositeLeafTypes are the rule types a composite rule may combine.
var compositeLeafTypes = []string{TypeThreshold, TypeGnocchiResources, TypeGnocchiByMetrics, TypeGnocchiByResources, TypePrometheus}

func parseComposite(prefix string, raw json.RawMessage) (*CompositeRule, error) {
	if len(raw) > MaxRuleBytes {
		return nil, fieldErr(prefix, "must be at most %d bytes of JSON", MaxRuleBytes)
	}
	// Check the nesting before decoding anything, so a hostile body costs
	// one linear scan.
	if d := jsonDepth(raw); d > 2*MaxCompositeDepth+4 { // and/or levels plus a leaf with its query
		return nil, fieldErr(prefix, "nests deeper than %d levels of and/or", MaxCompositeDepth)
	}
	leaves := 0
	return compositeNode(prefix, raw, 0, &leaves)
}

// jsonDepth returns the maximum nesting of objects and arrays in b.
func jsonDepth(b []byte) int {
	depth, maxDepth, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			depth++
			maxDepth = max(maxDepth, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return maxDepth
}

func compositeNode(field string, raw json.RawMessage, depth int, leaves *int) (*CompositeRule, error) {
	if depth > MaxCompositeDepth {
		return nil, fieldErr(field, "nests deeper than %d levels of and/or", MaxCompositeDepth)
	}
	raw = bytes.TrimSpace(raw)
	var m map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, fieldErr(field, "invalid input composite rule: it should be a dict with an \"and\" or \"or\" as key, and the value of dict should be a list of basic threshold rules or sub composite rules, can be nested")
	}
	if _, typed := m["type"]; len(m) == 1 && !typed {
		var op string
		var list json.RawMessage
		for k, v := range m {
			op, list = k, v
		}
		if op != "and" && op != "or" {
			return nil, fieldErr(field, "threshold rules should be combined with \"and\" or \"or\", not %q", op)
		}
		var items []json.RawMessage
		if err := json.Unmarshal(list, &items); err != nil || len(items) == 0 {
			return nil, fieldErr(field+"."+op, "must be a non-empty list of rules")
		}
		n := &CompositeRule{Op: op}
		for i, it := range items {
			c, err := compositeNode(fmt.Sprintf("%s.%s[%d]", field, op, i), it, depth+1, leaves)
			if err != nil {
				return nil, err
			}
			n.Children = append(n.Children, c)
		}
		return n, nil
	}
	tv, ok := m["type"]
	var typ string
	if !ok || json.Unmarshal(tv, &typ) != nil || typ == "" {
		return nil, fieldErr(field+".type", "type must be set in every rule")
	}
	known := false
	for _, t := range compositeLeafTypes {
		known = known || t == typ
	}
	if !known {
		return nil, fieldErr(field+".type", "unsupported sub-rule type %q in composite rule, should be one of: %s", typ, strings.Join(compositeLeafTypes, ", "))
	}
	*leaves++
	if *leaves > MaxCompositeRules {
		return nil, fieldErr(field, "a composite rule holds at most %d rules", MaxCompositeRules)
	}
	delete(m, "type")
	rest, err := json.Marshal(m)
	if err != nil {
		return nil, fieldErr(field, "%v", err)
	}
	leaf, err := parse(typ, field, rest, depth)
	if err != nil {
		return nil, err
	}
	return &CompositeRule{Leaf: leaf}, nil
}
