package events

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/altimeter/altimeter/internal/notification"
	"github.com/altimeter/altimeter/sdk/sample"
)

// maxText is the longest text trait Ceilometer keeps, in characters.
const maxText = 255

// maxCached bounds the event types whose matching definition is cached.
const maxCached = 4096

// defaultTraits are the traits of every event, as Ceilometer's
// EventDefinition.DEFAULT_TRAITS (with ctxt.project_id added as a last
// fallback, as newer oslo.context drops "tenant").
var defaultTraits = map[string]any{
	"service":    "publisher_id",
	"request_id": "ctxt.request_id",
	"project_id": []any{"payload.tenant_id", "ctxt.tenant", "ctxt.project_id"},
	"user_id":    []any{"payload.user_id", "ctxt.user_id"},
	"tenant_id":  []any{"payload.tenant_id", "ctxt.tenant", "ctxt.project_id"},
}

// Option changes how Definitions convert notifications.
type Option func(*options)

type options struct {
	dropUnmatched bool
	storeRaw      map[string]bool
}

// DropUnmatched drops notifications no definition matches, instead of
// making events with the default traits only (Ceilometer's
// drop_unmatched_notifications).
func DropUnmatched() Option { return func(o *options) { o.dropUnmatched = true } }

// StoreRaw keeps the notification body as the event's Raw for the given
// priorities ("info", "error"; Ceilometer's store_raw).
func StoreRaw(priorities ...string) Option {
	return func(o *options) {
		for _, p := range priorities {
			o.storeRaw[strings.ToLower(p)] = true
		}
	}
}

// Definitions is a compiled event_definitions.yaml. It is safe for
// concurrent use.
type Definitions struct {
	defs   []*definition // last in the file first, then the catch-all
	opts   options
	cache  sync.Map // event type -> *definition (nil: none)
	cached atomic.Int64
}

type definition struct {
	label    string // `event "compute.instance.*"`
	include  []notification.Matcher
	exclude  []notification.Matcher
	catchAll bool
	traits   []trait // sorted by name
}

type trait struct {
	name  string
	typ   sample.TraitType
	field *notification.Field
}

//go:embed event_definitions.yaml
var defaultYAML []byte

var defaultDefs = sync.OnceValue(func() []*definition {
	defs, err := parse(defaultYAML, "event_definitions.yaml")
	if err != nil {
		panic(fmt.Sprintf("events: shipped definitions: %v", err))
	}
	return defs
})

// Default returns Ceilometer's shipped event definitions with opts.
func Default(opts ...Option) *Definitions { return build(defaultDefs(), opts) }

// DefaultYAML returns the source of the shipped definitions, a starting
// point for an operator's own file.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Parse compiles an event_definitions.yaml file (a list of definitions,
// each with event_type and traits). name is used in errors, which carry
// the line and column of the definition at fault.
func Parse(src []byte, name string, opts ...Option) (*Definitions, error) {
	defs, err := parse(src, name)
	if err != nil {
		return nil, err
	}
	return build(defs, opts), nil
}

func build(defs []*definition, opts []Option) *Definitions {
	d := &Definitions{opts: options{storeRaw: map[string]bool{}}}
	for _, o := range opts {
		o(&d.opts)
	}
	d.defs = append(d.defs, defs...)
	hasCatchAll := false
	for _, def := range defs {
		hasCatchAll = hasCatchAll || def.catchAll
	}
	if !d.opts.dropUnmatched && !hasCatchAll {
		catchAll, err := compile(map[string]any{"event_type": "*", "traits": map[string]any{}})
		if err != nil {
			panic(fmt.Sprintf("events: catch-all definition: %v", err))
		}
		d.defs = append(d.defs, catchAll)
	}
	return d
}

func parse(src []byte, name string) ([]*definition, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(root.Content) == 0 {
		return nil, nil // an empty file: no definitions, as Ceilometer's []
	}
	list := root.Content[0]
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s:%d:%d: want a list of event definitions", name, list.Line, list.Column)
	}
	defs := make([]*definition, 0, len(list.Content))
	for i := len(list.Content) - 1; i >= 0; i-- {
		item := list.Content[i]
		where := fmt.Sprintf("%s:%d:%d: definition %d", name, item.Line, item.Column, i)
		var cfg map[string]any
		if err := item.Decode(&cfg); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		def, err := compile(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		defs = append(defs, def)
	}
	return defs, nil
}

func compile(cfg map[string]any) (*definition, error) {
	raw, ok := cfg["event_type"]
	if !ok {
		return nil, fmt.Errorf("required field event_type not specified")
	}
	rawTraits, ok := cfg["traits"]
	if !ok {
		return nil, fmt.Errorf("required field traits not specified")
	}
	var types []string
	switch et := raw.(type) {
	case string:
		types = []string{et}
	case []any:
		for _, e := range et {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("event_type: want strings, got %v", e)
			}
			types = append(types, s)
		}
	default:
		return nil, fmt.Errorf("event_type: want a string or a list, got %v", raw)
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("event_type: empty list")
	}
	def := &definition{label: fmt.Sprintf("event %q", strings.Join(types, ","))}
	hasStar := false
	for _, t := range types {
		pattern, exclude := strings.CutPrefix(t, "!")
		m, err := notification.CompileGlob(pattern)
		if err != nil {
			return nil, fmt.Errorf("event_type: %w", err)
		}
		if exclude {
			def.exclude = append(def.exclude, m)
		} else {
			def.include = append(def.include, m)
			hasStar = hasStar || pattern == "*"
		}
	}
	if len(def.include) == 0 {
		def.include = []notification.Matcher{func(string) bool { return true }}
		hasStar = true
	}
	def.catchAll = hasStar && len(def.exclude) == 0
	traits, ok := rawTraits.(map[string]any)
	if !ok && rawTraits != nil {
		return nil, fmt.Errorf("traits: want a mapping of trait names, got %v", rawTraits)
	}
	all := make(map[string]any, len(defaultTraits)+len(traits))
	for k, v := range defaultTraits {
		all[k] = v
	}
	for k, v := range traits {
		all[k] = v
	}
	for name, tc := range all {
		t, err := compileTrait(name, tc)
		if err != nil {
			return nil, fmt.Errorf("trait %s: %w", name, err)
		}
		def.traits = append(def.traits, t)
	}
	sort.Slice(def.traits, func(i, j int) bool { return def.traits[i].name < def.traits[j].name })
	return def, nil
}

func compileTrait(name string, cfg any) (trait, error) {
	t := trait{name: name, typ: sample.TraitText}
	if m, ok := cfg.(map[string]any); ok {
		if raw, ok := m["type"]; ok {
			s, _ := raw.(string)
			switch s {
			case "text":
			case "int":
				t.typ = sample.TraitInt
			case "float":
				t.typ = sample.TraitFloat
			case "datetime":
				t.typ = sample.TraitDatetime
			default:
				return t, fmt.Errorf("invalid trait type %v (want text, int, float or datetime)", raw)
			}
		}
	}
	f, err := notification.CompileField(cfg)
	if err != nil {
		return t, err
	}
	t.field = f
	return t, nil
}

func (def *definition) matches(eventType string) bool {
	in := false
	for _, m := range def.include {
		if m(eventType) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, m := range def.exclude {
		if m(eventType) {
			return false
		}
	}
	return true
}

// match returns the definition for eventType, or nil.
func (d *Definitions) match(eventType string) *definition {
	if v, ok := d.cache.Load(eventType); ok {
		return v.(*definition)
	}
	var found *definition
	for _, def := range d.defs {
		if def.matches(eventType) {
			found = def
			break
		}
	}
	if d.cached.Load() < maxCached {
		if _, loaded := d.cache.LoadOrStore(eventType, found); !loaded {
			d.cached.Add(1)
		}
	}
	return found
}

// Event converts n. It returns false, with no error, when n is not to
// become an event: its priority is neither info nor error, or no definition
// matches and DropUnmatched was given. A trait whose value cannot be
// converted, or a notification without a time, fails the event with a
// *notification.MappingError.
func (d *Definitions) Event(n *notification.Notification) (sample.Event, bool, error) {
	p := n.NormalizedPriority()
	if p != "info" && p != "error" {
		return sample.Event{}, false, nil
	}
	def := d.match(n.EventType)
	if def == nil {
		return sample.Event{}, false, nil
	}
	when, err := n.Time()
	if err != nil {
		return sample.Event{}, false, &notification.MappingError{Definition: def.label, Reason: err.Error()}
	}
	ev := sample.Event{MessageID: n.MessageID, EventType: n.EventType, Generated: when}
	if ev.MessageID == "" {
		ev.MessageID = sample.NewMessageID()
	}
	doc := n.Document()
	ev.Traits = make([]sample.Trait, 0, len(def.traits))
	for _, t := range def.traits {
		v, ok, err := t.field.First(doc)
		if err != nil {
			return sample.Event{}, false, def.fail(t.name, "%s: %v", t.field, err)
		}
		if !ok || t.typ != sample.TraitText && v == "" {
			continue // Nova sends "" for unset dates
		}
		tr := sample.Trait{Name: t.name, Type: t.typ}
		switch t.typ {
		case sample.TraitInt:
			tr.Int, err = notification.Int(v)
		case sample.TraitFloat:
			tr.Float, err = notification.Float(v)
		case sample.TraitDatetime:
			tr.Datetime, err = notification.Datetime(v)
		default:
			tr.Text = notification.Truncate(notification.Text(v), maxText)
		}
		if err != nil {
			return sample.Event{}, false, def.fail(t.name, "%s: %v", t.field, err)
		}
		ev.Traits = append(ev.Traits, tr)
	}
	if d.opts.storeRaw[p] {
		raw, err := json.Marshal(n.Body())
		if err != nil {
			return sample.Event{}, false, def.fail("", "encode raw notification: %v", err)
		}
		ev.Raw = raw
	}
	return ev, true, nil
}

func (def *definition) fail(field, format string, args ...any) *notification.MappingError {
	return &notification.MappingError{Definition: def.label, Field: field, Reason: fmt.Sprintf(format, args...)}
}
