package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/altimeter/altimeter/sdk/base"
)

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "agent"},
		{Type: "pollster", LabelNames: []string{"plugin"}},
		{Type: "polling", LabelNames: []string{"name"}},
		{Type: "listener", LabelNames: []string{"plugin", "instance"}},
		{Type: "sink", LabelNames: []string{"name"}},
		{Type: "store"},
		{Type: "alarm"},
		{Type: "plugin", LabelNames: []string{"kind", "name"}},
	},
}

var agentSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "data_dir"},
		{Name: "plugin_dir"},
		{Name: "log_level"},
		{Name: "strict_plugin_permissions"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "api"}, {Type: "cluster"}},
}

var apiSchema = &hcl.BodySchema{
	Attributes: append(append([]hcl.AttributeSchema{{Name: "address"}, {Name: "auth"}, {Name: "metric_labels"}},
		apiLimitAttrs...), apiServerAttributes...),
	Blocks: []hcl.BlockHeaderSchema{{Type: "tls"}},
}

var pollingSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "interval", Required: true},
		{Name: "meters", Required: true},
		{Name: "discovery"},
		{Name: "resources"},
		{Name: "sinks", Required: true},
	},
}

var sinkSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: base.Transformer.BlockType(), LabelNames: []string{"plugin"}},
		{Type: base.Publisher.BlockType(), LabelNames: []string{"plugin"}},
	},
}

// hostSchema is the host-owned part of a plugin block of kind k.
func hostSchema(k base.Kind) *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, name := range base.HostAttributes(k) {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: name, Required: true})
	}
	return s
}

var logLevels = []string{"trace", "debug", "info", "warn", "error"}

func (l *loader) addFile(f *hcl.File, diags hcl.Diagnostics) {
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		// A file that does not parse gives only its syntax errors: checking
		// the rest would report blocks the parser lost as missing.
		l.syntax = true
		return
	}
	if f == nil || f.Body == nil {
		return
	}
	content, cd := f.Body.Content(rootSchema)
	l.diags = append(l.diags, cd...)
	for _, b := range content.Blocks {
		if !l.checkLabels(b) || !l.unique(b) {
			continue
		}
		switch b.Type {
		case "agent":
			l.agents = append(l.agents, b)
			l.decodeAgent(b)
		case "pollster":
			l.cfg.Pollsters = append(l.cfg.Pollsters, l.decodePollster(b))
		case "polling":
			l.cfg.Polling = append(l.cfg.Polling, l.decodePolling(b))
		case "listener":
			l.cfg.Listeners = append(l.cfg.Listeners, l.decodeListener(b))
		case "sink":
			l.cfg.Sinks = append(l.cfg.Sinks, l.decodeSink(b))
		case "store":
			l.decodeStore(b)
		case "alarm":
			l.decodeAlarm(b)
		case "plugin":
			l.decodePin(b)
		}
	}
}

// checkLabels requires labels to be identifiers: they become parts of
// dotted instance IDs and binary names.
func (l *loader) checkLabels(b *hcl.Block) bool {
	ok := true
	for i, lab := range b.Labels {
		if hclsyntax.ValidIdentifier(lab) {
			continue
		}
		ok = false
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid " + b.Type + " label",
			Detail:   fmt.Sprintf("%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter or underscore.", lab),
			Subject:  b.LabelRanges[i].Ptr(),
		})
	}
	return ok
}

// unique reports a block whose type and labels repeat an earlier block.
func (l *loader) unique(b *hcl.Block) bool {
	key := strings.Join(append([]string{b.Type}, b.Labels...), ".")
	if prev, dup := l.seen[key]; dup {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate " + b.Type + " block",
			Detail:   fmt.Sprintf("%s is already declared at %s.", key, prev.DefRange),
			Subject:  b.DefRange.Ptr(),
		})
		return false
	}
	l.seen[key] = b
	return true
}

func (l *loader) decodeAgent(b *hcl.Block) {
	a := &l.cfg.Agent
	a.DefRange = b.DefRange
	content, diags := b.Body.Content(agentSchema)
	l.diags = append(l.diags, diags...)
	if attr, ok := content.Attributes["data_dir"]; ok {
		a.DataDir = l.nonEmptyString(attr)
	}
	if attr, ok := content.Attributes["plugin_dir"]; ok {
		a.PluginDir = l.nonEmptyString(attr)
	}
	if attr, ok := content.Attributes["strict_plugin_permissions"]; ok {
		l.decodeStrictPluginPermissions(attr)
	}
	if attr, ok := content.Attributes["log_level"]; ok {
		if v, ok := l.stringAttr(attr); ok {
			if contains(logLevels, v) {
				a.LogLevel = v
			} else {
				l.diags = append(l.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid log level",
					Detail:   fmt.Sprintf("%q is not a log level; use one of %s.", v, strings.Join(logLevels, ", ")),
					Subject:  attr.Expr.Range().Ptr(),
				})
			}
		}
	}
	var api *hcl.Block
	for _, blk := range content.Blocks {
		if blk.Type == "cluster" {
			l.decodeCluster(blk)
			continue
		}
		if api != nil {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate api block",
				Detail:   fmt.Sprintf("agent.api is already declared at %s.", api.DefRange),
				Subject:  blk.DefRange.Ptr(),
			})
			continue
		}
		api = blk
		ac, diags := blk.Body.Content(apiSchema)
		l.diags = append(l.diags, diags...)
		if attr, ok := ac.Attributes["auth"]; ok {
			if v, ok := l.boolAttr(attr); ok {
				a.APINoAuth = !v
				a.APIAuthRange = attr.Expr.Range()
			}
		}
		if attr, ok := ac.Attributes["metric_labels"]; ok {
			l.metricLabels(a, attr)
		}
		l.apiLimits(a, ac)
		l.decodeAPIServer(a, ac)
		attr, ok := ac.Attributes["address"]
		if !ok {
			continue
		}
		v, ok := l.stringAttr(attr)
		if !ok {
			continue
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid API address",
				Detail:   fmt.Sprintf("%q is not a host:port address: %s.", v, err),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		a.APIAddress = v
	}
}

func (l *loader) decodePollster(b *hcl.Block) *Plugin {
	return &Plugin{
		Kind:      base.Pollster,
		Name:      b.Labels[0],
		ID:        base.Pollster.String() + "." + b.Labels[0],
		Body:      b.Body,
		DefRange:  b.DefRange,
		NameRange: b.LabelRanges[0],
	}
}

func (l *loader) decodeListener(b *hcl.Block) *Listener {
	content, rest, diags := b.Body.PartialContent(hostSchema(base.Listener))
	l.diags = append(l.diags, diags...)
	li := &Listener{
		Plugin: &Plugin{
			Kind:      base.Listener,
			Name:      b.Labels[0],
			ID:        base.Listener.String() + "." + b.Labels[0] + "." + b.Labels[1],
			Body:      rest,
			DefRange:  b.DefRange,
			NameRange: b.LabelRanges[0],
		},
		Instance: b.Labels[1],
	}
	if attr, ok := content.Attributes["sinks"]; ok {
		li.Sinks = l.refList(attr, true)
	}
	return li
}

func (l *loader) decodePolling(b *hcl.Block) *Polling {
	p := &Polling{Name: b.Labels[0], DefRange: b.DefRange}
	content, diags := b.Body.Content(pollingSchema)
	l.diags = append(l.diags, diags...)
	if attr, ok := content.Attributes["interval"]; ok {
		p.Interval = l.interval(attr)
	}
	if attr, ok := content.Attributes["meters"]; ok {
		p.MetersRange = attr.Expr.Range()
		p.MeterPatterns = l.refList(attr, true)
		if len(p.MeterPatterns) > 0 {
			p.Meters = l.meterFilter(p.MeterPatterns)
		}
	}
	if attr, ok := content.Attributes["discovery"]; ok {
		p.Discovery = l.refList(attr, false)
		for _, d := range p.Discovery {
			if pollster, method, ok := strings.Cut(d.Name, "."); !ok || pollster == "" || method == "" {
				l.diags = append(l.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid discovery reference",
					Detail:   fmt.Sprintf("%q is not of the form \"<pollster>.<method>\".", d.Name),
					Subject:  d.Range.Ptr(),
				})
			}
		}
	}
	if attr, ok := content.Attributes["resources"]; ok {
		for _, r := range l.refList(attr, false) {
			p.Resources = append(p.Resources, r.Name)
		}
	}
	if attr, ok := content.Attributes["sinks"]; ok {
		p.Sinks = l.refList(attr, true)
	}
	return p
}

func (l *loader) decodeSink(b *hcl.Block) *Sink {
	s := &Sink{Name: b.Labels[0], DefRange: b.DefRange}
	content, diags := b.Body.Content(sinkSchema)
	l.diags = append(l.diags, diags...)
	count := map[string]int{}
	for _, blk := range content.Blocks {
		if !l.checkLabels(blk) {
			continue
		}
		kind := base.Publisher
		if blk.Type == base.Transformer.BlockType() {
			kind = base.Transformer
		}
		name := blk.Labels[0]
		id := kind.String() + "." + name + "." + s.Name
		count[id]++
		if n := count[id]; n > 1 {
			id += "." + strconv.Itoa(n)
		}
		p := &Plugin{
			Kind:      kind,
			Name:      name,
			ID:        id,
			Body:      blk.Body,
			DefRange:  blk.DefRange,
			NameRange: blk.LabelRanges[0],
		}
		if kind == base.Publisher {
			p.Body = l.publishQueue(p, blk.Body)
		}
		if kind == base.Transformer {
			s.Transforms = append(s.Transforms, p)
		} else {
			s.Publishers = append(s.Publishers, p)
		}
	}
	return s
}

// publishQueue takes the host-owned queue block out of a publish block's
// body and returns the rest, the plugin's.
func (l *loader) publishQueue(p *Plugin, body hcl.Body) hcl.Body {
	content, rest, diags := body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: QueueBlock}}})
	l.diags = append(l.diags, diags...)
	for i, b := range content.Blocks {
		if i > 0 {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate queue block",
				Detail:   fmt.Sprintf("A publish block has at most one queue block; the first is at %s.", p.Queue.DefRange),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		p.Queue = l.decodeQueue(b)
	}
	return rest
}

// interval decodes a Go duration of at least MinInterval.
func (l *loader) interval(attr *hcl.Attribute) time.Duration {
	v, ok := l.stringAttr(attr)
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid interval",
			Detail:   fmt.Sprintf("%q is not a duration; write e.g. \"30s\", \"5m\" or \"1h\".", v),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return 0
	}
	if d < MinInterval {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid interval",
			Detail:   fmt.Sprintf("The interval must be at least %s; got %s.", MinInterval, v),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return 0
	}
	return d
}

// meterFilter compiles patterns, reporting a bad one at its element.
func (l *loader) meterFilter(patterns []Ref) *MeterFilter {
	names := make([]string, len(patterns))
	for i, p := range patterns {
		names[i] = p.Name
	}
	f, err := NewMeterFilter(names)
	if err != nil {
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid meter pattern", Detail: err.Error()}
		if pe, ok := err.(*PatternError); ok {
			d.Summary, d.Detail = pe.Summary(), pe.Detail()
			d.Subject = patterns[pe.Index].Range.Ptr()
		}
		l.diags = append(l.diags, d)
		return nil
	}
	return f
}

// stringAttr decodes a string attribute.
func (l *loader) stringAttr(attr *hcl.Attribute) (string, bool) {
	return l.stringExpr(attr.Expr, fmt.Sprintf("attribute %q", attr.Name))
}

func (l *loader) nonEmptyString(attr *hcl.Attribute) string {
	v, ok := l.stringAttr(attr)
	if ok && v == "" {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty " + attr.Name,
			Detail:   fmt.Sprintf("%s must not be empty; leave it out for the default.", attr.Name),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	return v
}

// stringExpr evaluates a string; what names it in messages
// ("attribute \"interval\"", "an element of sinks").
func (l *loader) stringExpr(expr hcl.Expression, what string) (string, bool) {
	v, diags := expr.Value(nil)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return "", false
	}
	fail := func(detail string) (string, bool) {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect value type",
			Detail:   fmt.Sprintf("Inappropriate value for %s: %s.", what, detail),
			Subject:  expr.Range().Ptr(),
		})
		return "", false
	}
	if v.IsNull() {
		return fail("a string is required, not null")
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		return fail(err.Error())
	}
	if !sv.IsKnown() {
		return fail("the value must be known")
	}
	return sv.AsString(), true
}

// refList decodes a static list of strings, keeping each element's range.
// Empty strings and repeated entries are errors; an empty list is one if
// nonEmpty.
func (l *loader) refList(attr *hcl.Attribute, nonEmpty bool) []Ref {
	exprs, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		// `[]` has no element expressions to list; accept it as empty.
		v, vd := attr.Expr.Value(nil)
		if vd.HasErrors() || !v.IsWhollyKnown() || v.IsNull() ||
			!(v.Type().IsTupleType() || v.Type().IsListType() || v.Type().IsSetType()) || v.LengthInt() != 0 {
			l.diags = append(l.diags, diags...)
			return nil
		}
	}
	if len(exprs) == 0 {
		if nonEmpty {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Empty " + attr.Name + " list",
				Detail:   fmt.Sprintf("%s needs at least one entry.", attr.Name),
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
		return nil
	}
	refs := make([]Ref, 0, len(exprs))
	seen := map[string]hcl.Range{}
	for _, e := range exprs {
		v, ok := l.stringExpr(e, "an element of "+attr.Name)
		if !ok {
			continue
		}
		r := Ref{Name: v, Range: e.Range()}
		if v == "" {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Empty " + attr.Name + " entry",
				Detail:   fmt.Sprintf("Entries of %s must not be empty strings.", attr.Name),
				Subject:  r.Range.Ptr(),
			})
			continue
		}
		if prev, dup := seen[v]; dup {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate " + attr.Name + " entry",
				Detail:   fmt.Sprintf("%q is already listed at %s.", v, prev),
				Subject:  r.Range.Ptr(),
			})
			continue
		}
		seen[v] = r.Range
		refs = append(refs, r)
	}
	return refs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
