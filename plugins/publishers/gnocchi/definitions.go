package main

import (
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/altimeter/altimeter/internal/notification"
)

// ceilometerResources is Ceilometer 19.0.0's
// ceilometer/publisher/data/gnocchi_resources.yaml (Apache 2.0), as
// Debian's python3-ceilometer ships it.
//
//go:embed gnocchi_resources.yaml
var ceilometerResources []byte

// Limits on a definitions file.
const (
	maxDefinitionBytes = 4 << 20
	maxResourceTypes   = 1000
)

// resourceDef is one entry of resources: a Gnocchi resource type, the
// meters stored on it (with their archive policy) and the attributes read
// from each sample.
type resourceDef struct {
	Type       string
	Policies   map[string]string // meter -> archive policy name
	Attributes map[string]*notification.Field
	attrNames  []string // sorted
}

// definitions is a compiled gnocchi_resources.yaml.
type definitions struct {
	// ArchivePolicies are the policies to create, as JSON bodies.
	ArchivePolicies []map[string]any
	byMeter         map[string]*resourceDef
}

type rawDefinitions struct {
	ArchivePolicyDefault string           `yaml:"archive_policy_default"`
	ArchivePolicies      []map[string]any `yaml:"archive_policies"`
	Resources            []struct {
		ResourceType  string         `yaml:"resource_type"`
		Metrics       any            `yaml:"metrics"` // a map of meter to options, or (older form) a list of meters
		Attributes    map[string]any `yaml:"attributes"`
		ArchivePolicy string         `yaml:"archive_policy"`
	} `yaml:"resources"`
}

// parseDefinitions compiles src. override, when set, is every metric's
// archive policy (Ceilometer's archive_policy URL option).
func parseDefinitions(src []byte, override string) (*definitions, error) {
	if len(src) > maxDefinitionBytes {
		return nil, fmt.Errorf("resource definitions: %d bytes, more than %d", len(src), maxDefinitionBytes)
	}
	var raw rawDefinitions
	if err := yaml.Unmarshal(src, &raw); err != nil {
		return nil, fmt.Errorf("resource definitions: %w", err)
	}
	if len(raw.Resources) > maxResourceTypes {
		return nil, fmt.Errorf("resource definitions: %d resources, more than %d", len(raw.Resources), maxResourceTypes)
	}
	def := raw.ArchivePolicyDefault
	if def == "" {
		def = "ceilometer-low"
	}
	d := &definitions{ArchivePolicies: raw.ArchivePolicies, byMeter: map[string]*resourceDef{}}
	var errs []error
	for i, r := range raw.Resources {
		metrics := map[string]map[string]any{}
		switch ms := r.Metrics.(type) {
		case map[string]any:
			for m, extra := range ms {
				opts, _ := extra.(map[string]any)
				metrics[m] = opts
			}
		case []any:
			for _, m := range ms {
				if name, ok := m.(string); ok {
					metrics[name] = nil
				}
			}
		}
		if r.ResourceType == "" || len(metrics) == 0 {
			errs = append(errs, fmt.Errorf("resources[%d]: resource_type and metrics are required", i))
			continue
		}
		rd := &resourceDef{Type: r.ResourceType, Policies: map[string]string{}, Attributes: map[string]*notification.Field{}}
		for m, extra := range metrics {
			p, _ := extra["archive_policy_name"].(string)
			if p == "" {
				p = def
			}
			if override != "" {
				p = override
			}
			if r.ArchivePolicy != "" { // deprecated per-type policy, after the override as in Ceilometer
				p = r.ArchivePolicy
			}
			rd.Policies[m] = p
			if _, dup := d.byMeter[m]; !dup {
				d.byMeter[m] = rd
			}
		}
		for name, expr := range r.Attributes {
			if src, ok := expr.(string); ok {
				expr = distributeAlternatives(src)
			}
			f, err := notification.CompileField(expr)
			if err != nil {
				errs = append(errs, fmt.Errorf("resources[%d] (%s): attribute %s: %w", i, r.ResourceType, name, err))
				continue
			}
			rd.Attributes[name] = f
			rd.attrNames = append(rd.attrNames, name)
		}
		sort.Strings(rd.attrNames)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// attributes evaluates rd's attributes on doc (a sample as Ceilometer's
// Sample.as_dict()), leaving out those without a value.
func (rd *resourceDef) attributes(doc map[string]any) map[string]any {
	out := map[string]any{}
	for _, name := range rd.attrNames {
		v, ok, err := rd.Attributes[name].First(doc)
		if err == nil && ok && v != nil {
			out[name] = v
		}
	}
	return out
}

// distributeAlternatives rewrites jsonpath-rw's "prefix.(a|(b.c)|d)", which
// the definitions use (resource_metadata.(instance_type|(flavor.name)|flavor_name)),
// into the top-level alternatives "prefix.a|prefix.b.c|prefix.d" that
// internal/notification evaluates with the same meaning: the first that
// has a value wins. Any other expression is returned as it is.
func distributeAlternatives(src string) string {
	open := strings.Index(src, ".(")
	if open <= 0 || !strings.HasSuffix(src, ")") || strings.ContainsAny(src[:open], "()|") {
		return src
	}
	prefix, inner := src[:open], src[open+2:len(src)-1]
	var alts []string
	depth, startAt := 0, 0
	for i := 0; i < len(inner); i++ {
		switch inner[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return src
			}
		case '|':
			if depth == 0 {
				alts = append(alts, inner[startAt:i])
				startAt = i + 1
			}
		}
	}
	if depth != 0 {
		return src
	}
	alts = append(alts, inner[startAt:])
	for i, a := range alts {
		a = strings.TrimSpace(a)
		if strings.HasPrefix(a, "(") && strings.HasSuffix(a, ")") {
			a = a[1 : len(a)-1]
		}
		if a == "" || strings.ContainsAny(a, "()|") {
			return src
		}
		alts[i] = prefix + "." + a
	}
	return strings.Join(alts, "|")
}
