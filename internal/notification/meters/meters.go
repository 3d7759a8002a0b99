package meters

import (
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/altimeter/altimeter/internal/notification"
	"github.com/altimeter/altimeter/sdk/sample"
)

// Source is the source of every sample made from a notification, as
// Ceilometer's sample_source default.
const Source = "openstack"

// The attributes of a sample, in the order Ceilometer reads them.
const (
	attrName = iota
	attrType
	attrVolume
	attrUnit
	attrTimestamp
	attrUserID
	attrProjectID
	attrResourceID
	numAttrs
)

var attrNames = [numAttrs]string{"name", "type", "volume", "unit", "timestamp", "user_id", "project_id", "resource_id"}

// reservedPrefix and reservedLength are Ceilometer's
// reserved_metadata_namespace and reserved_metadata_length defaults.
const (
	reservedPrefix = "metering."
	reservedLength = 256
)

// maxCached bounds the event types whose matching definitions are cached.
const maxCached = 4096

var (
	fallbackUser    = notification.MustCompileField("$.ctxt.user_id|$.ctxt.user")
	fallbackProject = notification.MustCompileField("$.ctxt.tenant_id|$.ctxt.tenant|$.ctxt.project_id")
)

// Definitions is a compiled meters.yaml. It is safe for concurrent use.
type Definitions struct {
	defs     []*definition // in evaluation order: last in the file first
	warnings []string
	cache    sync.Map // event type -> []*definition
	cached   atomic.Int64
}

type definition struct {
	label    string // `meter "memory"`
	name     string // literal name, type and unit
	typ      string
	unit     string
	patterns []notification.Matcher
	attrs    [numAttrs]*notification.Field // nil when not configured
	metadata []metaField                   // sorted by name
	userMeta *notification.Field
	// metaKey identifies the metadata configuration, so definitions that
	// share one (the instance meters) compute it once per notification.
	metaKey string
	lookup  map[string]bool
}

type metaField struct {
	name  string
	field *notification.Field
}

//go:embed meters.yaml
var defaultYAML []byte

//go:embed legacy.yaml
var legacyYAML []byte

// shipped compiles one of the embedded files once.
func shipped(src []byte, name string) func() *Definitions {
	return sync.OnceValue(func() *Definitions {
		d, err := Parse(src, name)
		if err != nil {
			panic(fmt.Sprintf("meters: shipped definitions: %v", err))
		}
		return d
	})
}

var (
	defaults = shipped(defaultYAML, "meters.yaml")
	legacy   = shipped(legacyYAML, "legacy.yaml")
)

// Default returns the shipped definitions: Ceilometer's meters.yaml, and
// no others. The value is shared: do not modify it.
func Default() *Definitions { return defaults() }

// Legacy returns the legacy "existence" meters older Ceilometer releases
// made from notifications (instance, network, subnet, port, router,
// ip.floating and their .create and .update forms, stack.*), which
// Ceilometer's current defaults no longer make: an opt-in addition to
// Default. The value is shared: do not modify it.
func Legacy() *Definitions { return legacy() }

// DefaultYAML returns the source of the shipped definitions, a starting
// point for an operator's own file.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// LegacyYAML returns the source of the legacy definitions (Legacy).
func LegacyYAML() []byte { return append([]byte(nil), legacyYAML...) }

// Parse compiles a meters.yaml file (a mapping whose metric key lists the
// definitions). name is used in errors, which carry the line and column of
// the definition at fault.
func Parse(src []byte, name string) (*Definitions, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty file, want a mapping with a metric list", name)
	}
	top := root.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d:%d: want a mapping with a metric list", name, top.Line, top.Column)
	}
	var list *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "metric" {
			list = top.Content[i+1]
		}
	}
	if list == nil {
		return nil, fmt.Errorf("%s:%d:%d: no metric list", name, top.Line, top.Column)
	}
	for list.Kind == yaml.AliasNode {
		list = list.Alias
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d:%d: metric: want a list of definitions", name, list.Line, list.Column)
	}
	d := &Definitions{}
	seen := map[string]bool{}
	for i := len(list.Content) - 1; i >= 0; i-- {
		item := list.Content[i]
		where := fmt.Sprintf("%s:%d:%d: metric[%d]", name, item.Line, item.Column, i)
		var cfg map[string]any
		if err := item.Decode(&cfg); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		def, err := compile(cfg)
		if err != nil {
			if n, ok := cfg["name"].(string); ok {
				where += fmt.Sprintf(" %q", n)
			}
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if seen[def.name] {
			d.warnings = append(d.warnings, fmt.Sprintf("%s: skipping duplicate meter %q (a later definition wins)", where, def.name))
			continue
		}
		seen[def.name] = true
		d.defs = append(d.defs, def)
	}
	return d, nil
}

// Warnings returns what Parse skipped without failing: repeated meter
// names, of which the last definition wins.
func (d *Definitions) Warnings() []string { return append([]string(nil), d.warnings...) }

// Len returns the number of definitions.
func (d *Definitions) Len() int { return len(d.defs) }

// Meters returns the literal names of the definitions, sorted (a name that
// is an expression, as in lookup definitions, appears as written).
func (d *Definitions) Meters() []string {
	out := make([]string, 0, len(d.defs))
	for _, def := range d.defs {
		out = append(out, def.name)
	}
	sort.Strings(out)
	return out
}

func compile(cfg map[string]any) (*definition, error) {
	var missing []string
	for _, k := range []string{"name", "type", "event_type", "unit", "volume", "resource_id"} {
		if !notification.Truthy(cfg[k]) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("required fields not specified: %s", strings.Join(missing, ", "))
	}
	def := &definition{}
	var ok bool
	for k, dst := range map[string]*string{"name": &def.name, "type": &def.typ, "unit": &def.unit} {
		if *dst, ok = cfg[k].(string); !ok {
			return nil, fmt.Errorf("%s: want a string, got %v", k, cfg[k])
		}
	}
	def.label = fmt.Sprintf("meter %q", def.name)
	switch l := cfg["lookup"].(type) {
	case nil:
	case string:
		def.lookup = map[string]bool{l: true}
	case []any:
		def.lookup = map[string]bool{}
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("lookup: want attribute names, got %v", e)
			}
			def.lookup[s] = true
		}
	default:
		return nil, fmt.Errorf("lookup: want a list of attribute names, got %v", l)
	}
	for k := range def.lookup {
		if k != "name" && k != "type" && k != "unit" && k != "volume" && k != "timestamp" &&
			k != "user_id" && k != "project_id" && k != "resource_id" {
			return nil, fmt.Errorf("lookup: %q is not a sample attribute", k)
		}
	}
	if _, err := sample.ParseType(def.typ); err != nil && !def.lookup["type"] {
		return nil, fmt.Errorf("invalid type %q specified (want gauge, delta or cumulative)", def.typ)
	}
	var patterns []string
	switch et := cfg["event_type"].(type) {
	case string:
		patterns = []string{et}
	case []any:
		for _, e := range et {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("event_type: want strings, got %v", e)
			}
			patterns = append(patterns, s)
		}
	default:
		return nil, fmt.Errorf("event_type: want a string or a list, got %v", et)
	}
	for _, p := range patterns {
		m, err := notification.CompileRegexp(p)
		if err != nil {
			return nil, fmt.Errorf("event_type: %w", err)
		}
		def.patterns = append(def.patterns, m)
	}
	for i, a := range attrNames {
		raw, ok := cfg[a]
		if !ok || raw == nil {
			continue
		}
		f, err := notification.CompileField(raw)
		if err != nil {
			if i == attrName || i == attrType || i == attrUnit {
				continue // a literal Ceilometer cannot read as a path, such as unit "%"
			}
			return nil, fmt.Errorf("%s: %w", a, err)
		}
		if def.lookup != nil && !f.SupportsAll() {
			return nil, fmt.Errorf("%s: its plugin cannot return several values, as lookup needs", a)
		}
		def.attrs[i] = f
	}
	if raw, ok := cfg["metadata"]; ok && raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("metadata: want a mapping, got %v", raw)
		}
		for k, v := range m {
			f, err := notification.CompileField(v)
			if err != nil {
				return nil, fmt.Errorf("metadata: %s: %w", k, err)
			}
			def.metadata = append(def.metadata, metaField{name: k, field: f})
		}
		sort.Slice(def.metadata, func(i, j int) bool { return def.metadata[i].name < def.metadata[j].name })
	}
	if raw, ok := cfg["user_metadata"]; ok && raw != nil {
		f, err := notification.CompileField(raw)
		if err != nil {
			return nil, fmt.Errorf("user_metadata: %w", err)
		}
		def.userMeta = f
	}
	var key strings.Builder
	for _, m := range def.metadata {
		key.WriteString(m.name + "\x00" + m.field.String() + "\x00")
	}
	if def.userMeta != nil {
		key.WriteString("\x01" + def.userMeta.String())
	}
	def.metaKey = key.String()
	return def, nil
}

func (def *definition) matches(eventType string) bool {
	for _, m := range def.patterns {
		if m(eventType) {
			return true
		}
	}
	return false
}

// matching returns the definitions whose event_type matches eventType.
func (d *Definitions) matching(eventType string) []*definition {
	if v, ok := d.cache.Load(eventType); ok {
		return v.([]*definition)
	}
	var out []*definition
	for _, def := range d.defs {
		if def.matches(eventType) {
			out = append(out, def)
		}
	}
	if d.cached.Load() < maxCached {
		if _, loaded := d.cache.LoadOrStore(eventType, out); !loaded {
			d.cached.Add(1)
		}
	}
	return out
}

// Samples maps n to samples with every definition whose event_type
// matches. When none applies (or n's priority is neither info nor sample)
// it returns an error wrapping notification.ErrNoMatch. A definition that
// applies but cannot make a sample (a field that matched nothing, a volume
// that is not a number, a bad timestamp) is skipped; the error then joins
// one *notification.MappingError per skipped sample, alongside the samples
// the other definitions made.
func (d *Definitions) Samples(n *notification.Notification) ([]sample.Sample, error) {
	if p := n.NormalizedPriority(); p != "info" && p != "sample" {
		return nil, fmt.Errorf("%w: priority %s is not metered", notification.ErrNoMatch, p)
	}
	defs := d.matching(n.EventType)
	if len(defs) == 0 {
		return nil, fmt.Errorf("%w: no meter for event type %q", notification.ErrNoMatch, n.EventType)
	}
	c := &conv{n: n, doc: n.Document()}
	c.when, c.whenErr = n.Time()
	out := make([]sample.Sample, 0, len(defs))
	var errs []error
	for _, def := range defs {
		var err error
		if def.lookup == nil {
			out, err = def.one(c, out)
		} else {
			out, err = def.many(c, out)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// conv is the state of one Samples call.
type conv struct {
	n       *notification.Notification
	doc     map[string]any
	when    time.Time
	whenErr error
	metas   []computedMeta
	// fb holds the fallback user_id and project_id (nil when none), the
	// same for every definition, once fbDone.
	fb     [2]any
	fbDone bool
}

// computedMeta is metadata computed for one notification, by metaKey.
type computedMeta struct {
	key string
	md  map[string]string
}

func (def *definition) fail(field, format string, args ...any) *notification.MappingError {
	return &notification.MappingError{Definition: def.label, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// values is one sample's attributes before conversion; nil means unset.
type values [numAttrs]any

// one makes the sample of a definition without lookup.
func (def *definition) one(c *conv, out []sample.Sample) ([]sample.Sample, error) {
	var v values
	v[attrName], v[attrType], v[attrUnit] = def.name, def.typ, def.unit
	def.fallbacks(c, &v)
	md, err := def.meta(c)
	if err != nil {
		return out, err
	}
	for i, f := range def.attrs {
		if f == nil {
			continue
		}
		x, ok, err := f.First(c.doc)
		if err != nil {
			return out, def.fail(attrNames[i], "%s: %v", f, err)
		}
		if ok {
			v[i] = x
		}
	}
	s, err := def.build(c, &v, md, -1)
	if err != nil {
		return out, err
	}
	return append(out, s), nil
}

// fallbacks sets user_id and project_id from the request context, as
// Ceilometer does before reading the definition's own.
func (def *definition) fallbacks(c *conv, v *values) {
	if !c.fbDone {
		if x, ok, err := fallbackUser.First(c.doc); err == nil && ok {
			c.fb[0] = x
		}
		if x, ok, err := fallbackProject.First(c.doc); err == nil && ok {
			c.fb[1] = x
		}
		c.fbDone = true
	}
	if c.fb[0] != nil {
		v[attrUserID] = c.fb[0]
	}
	if c.fb[1] != nil {
		v[attrProjectID] = c.fb[1]
	}
}

// many makes the samples of a definition with lookup: one per value of
// name, with the lookup attributes taken one by one and the others shared.
func (def *definition) many(c *conv, out []sample.Sample) ([]sample.Sample, error) {
	var base values
	base[attrName], base[attrType], base[attrUnit] = def.name, def.typ, def.unit
	def.fallbacks(c, &base)
	md, err := def.meta(c)
	if err != nil {
		return out, err
	}
	var lists [numAttrs][]any
	for i := range lists {
		lists[i] = []any{base[i]}
		f := def.attrs[i]
		if f == nil {
			continue
		}
		all, err := f.All(c.doc)
		if err != nil {
			return out, def.fail(attrNames[i], "%s: %v", f, err)
		}
		if def.lookup[attrNames[i]] || i == attrName || len(all) > 0 {
			lists[i] = all
		}
	}
	nb := len(lists[attrName])
	if nb == 0 {
		// Ceilometer: "skip if no meters in payload", without a word.
		return out, nil
	}
	for i, l := range lists {
		if len(l) != nb && (len(l) != 1 || def.lookup[attrNames[i]]) {
			return out, def.fail(attrNames[i], "lookup: %d values for %d meters", len(l), nb)
		}
	}
	var errs []error
	for k := range nb {
		var v values
		for i, l := range lists {
			if len(l) == nb {
				v[i] = l[k]
			} else {
				v[i] = l[0]
			}
		}
		s, err := def.build(c, &v, md, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

// meta computes a definition's metadata: its metadata fields (values that
// are empty left out) and reserved user metadata, else the payload with
// event_type and host.
func (def *definition) meta(c *conv) (map[string]string, error) {
	for _, m := range c.metas {
		if m.key == def.metaKey {
			return maps.Clone(m.md), nil
		}
	}
	md, err := def.computeMeta(c)
	if err != nil {
		return nil, err
	}
	// The first sample gets the map itself; later ones clone it, before
	// any sample leaves Samples.
	c.metas = append(c.metas, computedMeta{key: def.metaKey, md: md})
	return md, nil
}

func (def *definition) computeMeta(c *conv) (map[string]string, error) {
	md := make(map[string]string, len(def.metadata)+2)
	// set[i] says def.metadata[i] gave a value; any says something did.
	var buf [64]bool
	var set []bool
	if len(def.metadata) <= len(buf) {
		set = buf[:len(def.metadata)]
	} else {
		set = make([]bool, len(def.metadata))
	}
	anySet := false
	for i, m := range def.metadata {
		x, ok, err := m.field.First(c.doc)
		if err != nil {
			return nil, def.fail("metadata."+m.name, "%s: %v", m.field, err)
		}
		if ok && notification.Truthy(x) {
			notification.Flatten(md, m.name, x)
			set[i], anySet = true, true
		}
	}
	if def.userMeta != nil {
		x, ok, err := def.userMeta.First(c.doc)
		if err != nil {
			return nil, def.fail("user_metadata", "%s: %v", def.userMeta, err)
		}
		if src, isMap := x.(map[string]any); ok && isMap {
			user := map[string]any{}
			for k, v := range src {
				key, ok := strings.CutPrefix(k, reservedPrefix)
				if !ok {
					continue
				}
				key = strings.ReplaceAll(key, ".", "_")
				if i, found := slices.BinarySearchFunc(def.metadata, key, func(m metaField, k string) int { return strings.Compare(m.name, k) }); found && set[i] {
					continue
				}
				if s, isStr := v.(string); isStr {
					v = notification.Truncate(s, reservedLength)
				}
				user[key] = v
			}
			if len(user) > 0 {
				notification.Flatten(md, "user_metadata", user)
				anySet = true
			}
		}
	}
	if anySet {
		return md, nil
	}
	if p, ok := c.doc["payload"].(map[string]any); ok {
		md = make(map[string]string, len(p)+2)
		for k, v := range p {
			notification.Flatten(md, k, v)
		}
	}
	md["event_type"] = c.n.EventType
	md["host"] = c.n.PublisherID
	return md, nil
}

// build converts one sample's values. k is its index for lookup
// definitions, -1 otherwise.
func (def *definition) build(c *conv, v *values, md map[string]string, k int) (sample.Sample, error) {
	s := sample.Sample{Source: Source, Metadata: md}
	if k >= 0 { // samples of one notification share nothing mutable
		s.Metadata = make(map[string]string, len(md))
		for key, val := range md {
			s.Metadata[key] = val
		}
	}
	label := def.label
	if x := v[attrName]; x != nil {
		s.Name = notification.Text(x)
		if s.Name != def.name {
			label = fmt.Sprintf("meter %q (%s)", s.Name, def.name)
		}
	}
	fail := func(field, format string, args ...any) error {
		return &notification.MappingError{Definition: label, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if s.Name == "" {
		return s, fail("name", "%s gave no name", def.attrs[attrName])
	}
	typ, err := sample.ParseType(notification.Text(v[attrType]))
	if err != nil {
		return s, fail("type", "%v", err)
	}
	s.Type = typ
	if v[attrUnit] != nil {
		s.Unit = notification.Text(v[attrUnit])
	}
	if v[attrVolume] == nil {
		return s, fail("volume", "%s matched nothing", def.attrs[attrVolume])
	}
	if s.Volume, err = notification.Float(v[attrVolume]); err != nil {
		return s, fail("volume", "%s: %v", def.attrs[attrVolume], err)
	}
	if v[attrResourceID] == nil {
		return s, fail("resource_id", "%s matched nothing", def.attrs[attrResourceID])
	}
	s.ResourceID = notification.Text(v[attrResourceID])
	if x := v[attrUserID]; x != nil {
		s.UserID = notification.Text(x)
	}
	if x := v[attrProjectID]; x != nil {
		s.ProjectID = notification.Text(x)
	}
	if x := v[attrTimestamp]; x != nil {
		if s.Timestamp, err = notification.Datetime(x); err != nil {
			return s, fail("timestamp", "%s: %v", def.attrs[attrTimestamp], err)
		}
	} else if c.whenErr != nil {
		return s, fail("timestamp", "%v", c.whenErr)
	} else {
		s.Timestamp = c.when
	}
	switch {
	case c.n.MessageID == "":
		s.MessageID = sample.NewMessageID()
	case k >= 0:
		s.MessageID = notification.DerivedID(c.n.MessageID, s.Name, s.ResourceID, strconv.Itoa(k))
	default:
		s.MessageID = notification.DerivedID(c.n.MessageID, s.Name, s.ResourceID)
	}
	return s, nil
}
