package metric

import (
	"fmt"
	"slices"
	"strings"
)

// Fixed label names.
const (
	LabelName       = "__name__"
	LabelResourceID = "resource_id"
	LabelProjectID  = "project_id"
	LabelUserID     = "user_id"
	LabelUnit       = "unit"
	LabelType       = "type"
)

// MaxMetadataLabels bounds the metadata keys a mapping may turn into labels.
const MaxMetadataLabels = 32

// reserved are the label names metadata keys may not map to.
var reserved = []string{LabelName, LabelResourceID, LabelProjectID, LabelUserID, LabelUnit, LabelType}

// Name returns the metric name of a meter.
func Name(meter string) string { return sanitize(meter) }

// sanitize maps s onto [a-zA-Z_:][a-zA-Z0-9_:]*.
func sanitize(s string) string {
	if s == "" {
		return "_"
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if !validByte(s[i], i == 0) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	if s[0] >= '0' && s[0] <= '9' {
		b.WriteByte('_')
	}
	for i := 0; i < len(s); i++ {
		if validByte(s[i], false) {
			b.WriteByte(s[i])
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func validByte(c byte, first bool) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

// LabelOf returns the label name of a resource metadata key (flavor.name
// -> flavor_name). Label names may not contain ':', so it becomes '_' too.
func LabelOf(key string) string { return strings.ReplaceAll(sanitize(key), ":", "_") }

// PromType returns the Prometheus metric type of a meter type: counter for
// cumulative, gauge for gauge and delta (a delta is an amount per interval;
// sum_over_time adds them up), unknown otherwise.
func PromType(meterType string) string {
	switch meterType {
	case "cumulative":
		return "counter"
	case "gauge", "delta":
		return "gauge"
	}
	return "unknown"
}

// Label is one label.
type Label struct {
	Name, Value string
}

// Series is what the mapping needs of one sample or stored series.
type Series struct {
	Meter, Type, Unit, ResourceID, ProjectID, UserID string
	// Metadata is the resource metadata valid at the sample's time.
	Metadata map[string]string
}

// Mapping turns series into labels. The zero value maps no metadata.
type Mapping struct {
	keys   []string // metadata keys, in label-name order
	labels []string // their label names
}

// New returns a mapping that labels series with the given resource metadata
// keys. It refuses more than MaxMetadataLabels keys, empty or duplicate
// keys, two keys with the same label name, and keys whose label name is a
// fixed label or starts with "__".
func New(metadataKeys []string) (*Mapping, error) {
	if len(metadataKeys) > MaxMetadataLabels {
		return nil, fmt.Errorf("metric mapping: %d metadata labels: at most %d", len(metadataKeys), MaxMetadataLabels)
	}
	type kv struct{ key, label string }
	var pairs []kv
	seen := map[string]string{}
	for _, k := range metadataKeys {
		if k == "" {
			return nil, fmt.Errorf("metric mapping: empty metadata key")
		}
		l := LabelOf(k)
		if slices.Contains(reserved, l) || strings.HasPrefix(l, "__") {
			return nil, fmt.Errorf("metric mapping: metadata key %q: label %q is reserved", k, l)
		}
		if prev, dup := seen[l]; dup {
			return nil, fmt.Errorf("metric mapping: metadata keys %q and %q both map to label %q", prev, k, l)
		}
		seen[l] = k
		pairs = append(pairs, kv{k, l})
	}
	slices.SortFunc(pairs, func(a, b kv) int { return strings.Compare(a.label, b.label) })
	m := &Mapping{}
	for _, p := range pairs {
		m.keys = append(m.keys, p.key)
		m.labels = append(m.labels, p.label)
	}
	return m, nil
}

// MetadataKeys returns the metadata keys the mapping labels, in label order.
func (m *Mapping) MetadataKeys() []string { return slices.Clone(m.keys) }

// MetadataLabel returns the label of metadata key k and whether the mapping
// has it.
func (m *Mapping) MetadataLabel(k string) (string, bool) {
	if i := slices.Index(m.keys, k); i >= 0 {
		return m.labels[i], true
	}
	return "", false
}

// HasMetadata reports whether the mapping labels any metadata.
func (m *Mapping) HasMetadata() bool { return m != nil && len(m.keys) > 0 }

// IsMetadataLabel reports whether l is the label of a chosen metadata key.
func (m *Mapping) IsMetadataLabel(l string) bool {
	return m != nil && slices.Contains(m.labels, l)
}

// FixedLabels are the label names every series may carry besides
// metadata, sorted.
func FixedLabels() []string {
	out := slices.Clone(reserved)
	slices.Sort(out)
	return out
}

// Labels appends the labels of s to dst, sorted by name, without empty
// values: __name__, the fixed labels and the chosen metadata keys.
func (m *Mapping) Labels(dst []Label, s *Series) []Label {
	add := func(n, v string) {
		if v != "" {
			dst = append(dst, Label{n, v})
		}
	}
	start := len(dst)
	add(LabelName, Name(s.Meter))
	add(LabelProjectID, s.ProjectID)
	add(LabelResourceID, s.ResourceID)
	add(LabelType, s.Type)
	add(LabelUnit, s.Unit)
	add(LabelUserID, s.UserID)
	if m != nil {
		for i, k := range m.keys {
			add(m.labels[i], s.Metadata[k])
		}
	}
	slices.SortFunc(dst[start:], func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return dst
}
