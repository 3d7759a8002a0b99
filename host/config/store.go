package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// BuiltinPolicies are the archive policies the store defines when a store
// block declares none of that name (Gnocchi's low, medium and high).
var BuiltinPolicies = []string{"low", "medium", "high"}

// DefaultPolicy is the policy of meters no rule matches.
const DefaultPolicy = "medium"

// StoreAggregates are the aggregation methods an archive policy may keep.
var StoreAggregates = []string{"count", "sum", "min", "max", "mean", "stddev", "last"}

// Store is the store block: the embedded store's archive policies, the
// rules that choose them by meter name, and retention.
type Store struct {
	// OutOfOrder is how late a sample may arrive and still be accepted.
	OutOfOrder time.Duration
	// EventRetention is how long events are kept; 0 keeps them.
	EventRetention time.Duration
	Policies       []*ArchivePolicy
	Rules          []*ArchiveRule
	DefRange       hcl.Range

	// MinFreeMB is the free space (MiB) in the data dir's file system
	// below which the store refuses writes; 0 means the store's default.
	MinFreeMB int
}

// ArchivePolicy is Gnocchi's archive policy: roll-ups at each archive's
// granularity, for Points buckets, plus raw samples for RawRetention.
type ArchivePolicy struct {
	Name         string
	RawRetention time.Duration
	Aggregates   []string // count, sum, min, max, mean, stddev, last, or pNN
	Archives     []Archive
	DefRange     hcl.Range
}

// Archive is one granularity of a policy.
type Archive struct {
	Granularity time.Duration
	Points      int
}

// ArchiveRule maps meter-name globs to a policy; rules apply in order, the
// first match wins.
type ArchiveRule struct {
	Name   string
	Meters []Ref
	Policy Ref
}

const DefaultOutOfOrder = time.Hour

var storeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "out_of_order"}, {Name: "event_retention"}, {Name: "min_free_mb"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "archive_policy", LabelNames: []string{"name"}},
		{Type: "archive_policy_rule", LabelNames: []string{"name"}},
	},
}

var policySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "raw_retention"}, {Name: "aggregates"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "archive"}},
}

var archiveSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "granularity", Required: true}, {Name: "points", Required: true}},
}

var ruleSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "meters", Required: true}, {Name: "policy", Required: true}},
}

// ParseDuration is time.ParseDuration plus a "d" (24 h) unit, as
// retention periods read best in days: "7d", "365d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil || days < 0 {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		rest := time.Duration(0)
		if s[i+1:] != "" {
			if rest, err = time.ParseDuration(s[i+1:]); err != nil {
				return 0, fmt.Errorf("%q is not a duration", s)
			}
		}
		return time.Duration(days)*24*time.Hour + rest, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

func (l *loader) duration(attr *hcl.Attribute, min time.Duration) time.Duration {
	v, ok := l.stringAttr(attr)
	if !ok {
		return 0
	}
	d, err := ParseDuration(v)
	if err == nil && d < min {
		err = fmt.Errorf("must be at least %s", min)
	}
	if err != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + attr.Name,
			Detail:   fmt.Sprintf("%s: %s; write e.g. \"90s\", \"1h\" or \"7d\".", attr.Name, err),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return 0
	}
	return d
}

func (l *loader) decodeStore(b *hcl.Block) {
	st := &Store{OutOfOrder: DefaultOutOfOrder, DefRange: b.DefRange}
	l.cfg.Store = st
	content, diags := b.Body.Content(storeSchema)
	l.diags = append(l.diags, diags...)
	if a, ok := content.Attributes["out_of_order"]; ok {
		st.OutOfOrder = l.duration(a, 0)
	}
	if a, ok := content.Attributes["event_retention"]; ok {
		st.EventRetention = l.duration(a, time.Hour)
	}
	if a, ok := content.Attributes["min_free_mb"]; ok {
		st.MinFreeMB = l.positiveInt(a)
	}
	seen := map[string]*hcl.Block{}
	for _, blk := range content.Blocks {
		if !l.checkLabels(blk) {
			continue
		}
		key := blk.Type + "." + blk.Labels[0]
		if prev, dup := seen[key]; dup {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate " + blk.Type + " block",
				Detail:   fmt.Sprintf("%s is already declared at %s.", key, prev.DefRange),
				Subject:  blk.DefRange.Ptr(),
			})
			continue
		}
		seen[key] = blk
		switch blk.Type {
		case "archive_policy":
			st.Policies = append(st.Policies, l.decodePolicy(blk))
		case "archive_policy_rule":
			st.Rules = append(st.Rules, l.decodeRule(blk))
		}
	}
	known := append([]string(nil), BuiltinPolicies...)
	for _, p := range st.Policies {
		known = append(known, p.Name)
	}
	for _, r := range st.Rules {
		if r.Policy.Name != "" && !contains(known, r.Policy.Name) {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown archive policy",
				Detail:   fmt.Sprintf("No archive policy %q; declare it in the store block or use one of %s.", r.Policy.Name, strings.Join(known, ", ")),
				Subject:  r.Policy.Range.Ptr(),
			})
		}
	}
}

func (l *loader) decodePolicy(b *hcl.Block) *ArchivePolicy {
	p := &ArchivePolicy{Name: b.Labels[0], DefRange: b.DefRange}
	content, diags := b.Body.Content(policySchema)
	l.diags = append(l.diags, diags...)
	if a, ok := content.Attributes["raw_retention"]; ok {
		p.RawRetention = l.duration(a, time.Minute)
	}
	if a, ok := content.Attributes["aggregates"]; ok {
		for _, r := range l.refList(a, true) {
			if !contains(StoreAggregates, r.Name) && !isPercentile(r.Name) {
				l.diags = append(l.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unknown aggregation method",
					Detail:   fmt.Sprintf("%q is not one of %s, or a percentile such as \"p95\".", r.Name, strings.Join(StoreAggregates, ", ")),
					Subject:  r.Range.Ptr(),
				})
				continue
			}
			p.Aggregates = append(p.Aggregates, r.Name)
		}
	}
	if len(content.Blocks) == 0 {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Archive policy without archives",
			Detail:   "Add at least one archive { granularity = \"1m\" points = 1440 } block.",
			Subject:  b.DefRange.Ptr(),
		})
	}
	for _, ab := range content.Blocks {
		ac, diags := ab.Body.Content(archiveSchema)
		l.diags = append(l.diags, diags...)
		var ar Archive
		if a, ok := ac.Attributes["granularity"]; ok {
			ar.Granularity = l.duration(a, time.Second)
		}
		if a, ok := ac.Attributes["points"]; ok {
			ar.Points = l.positiveInt(a)
		}
		p.Archives = append(p.Archives, ar)
	}
	return p
}

func isPercentile(s string) bool {
	if len(s) < 2 || s[0] != 'p' {
		return false
	}
	n, err := strconv.ParseFloat(s[1:], 64)
	return err == nil && n > 0 && n < 100
}

func (l *loader) positiveInt(attr *hcl.Attribute) int {
	v, diags := attr.Expr.Value(nil)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return 0
	}
	var n int
	if v.IsNull() || !v.Type().Equals(cty.Number) || gocty.FromCtyValue(v, &n) != nil || n <= 0 {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + attr.Name,
			Detail:   fmt.Sprintf("%s must be a positive whole number.", attr.Name),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return 0
	}
	return n
}

func (l *loader) decodeRule(b *hcl.Block) *ArchiveRule {
	r := &ArchiveRule{Name: b.Labels[0]}
	content, diags := b.Body.Content(ruleSchema)
	l.diags = append(l.diags, diags...)
	if a, ok := content.Attributes["meters"]; ok {
		r.Meters = l.refList(a, true)
	}
	if a, ok := content.Attributes["policy"]; ok {
		if v, ok := l.stringAttr(a); ok {
			r.Policy = Ref{Name: v, Range: a.Expr.Range()}
		}
	}
	return r
}
