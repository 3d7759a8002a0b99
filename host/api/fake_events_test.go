package api

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/sample"
)

// fakeEvents is an in-memory store.EventReader with the contract's
// semantics (type glob, [Start, End), traits, project scope, marker, limit;
// oldest first, then message_id), for unit tests of the event handlers. It
// records the last filter and counts calls. Globs follow path.Match, which
// differs from SQLite's GLOB only on "/" (not in the fixture's types).
type fakeEvents struct {
	mu    sync.Mutex
	evs   []sample.Event
	lastF store.EventFilter
	calls int
}

var _ store.EventReader = (*fakeEvents)(nil)

func newFakeEvents() *fakeEvents { return &fakeEvents{evs: eventFixture()} }

// sorted returns the events oldest first, then by message_id, each with its
// traits by name, as the store returns them.
func (f *fakeEvents) sorted(project string) []sample.Event {
	var out []sample.Event
	for _, ev := range f.evs {
		if project != "" && store.EventProject(ev) != project {
			continue
		}
		ev.Traits = slices.Clone(ev.Traits)
		sort.SliceStable(ev.Traits, func(i, j int) bool { return ev.Traits[i].Name < ev.Traits[j].Name })
		out = append(out, ev)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if c := out[i].Generated.Compare(out[j].Generated); c != 0 {
			return c < 0
		}
		return out[i].MessageID < out[j].MessageID
	})
	return out
}

func (f *fakeEvents) Events(_ context.Context, fl store.EventFilter) ([]sample.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastF, f.calls = fl, f.calls+1
	if fl.Limit < 0 {
		return nil, fmt.Errorf("%w: negative limit", store.ErrInvalid)
	}
	all := f.sorted("")
	order := eventCompare(fl.Sort)
	slices.SortStableFunc(all, order)
	var out []sample.Event
	for _, ev := range all {
		ok, err := matchEvent(&fl, &ev)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, ev)
		}
	}
	if fl.Marker != "" {
		i := slices.IndexFunc(all, func(ev sample.Event) bool { return ev.MessageID == fl.Marker })
		if i < 0 {
			return nil, fmt.Errorf("%w: unknown marker %q", store.ErrInvalid, fl.Marker)
		}
		m := all[i]
		out = slices.DeleteFunc(out, func(ev sample.Event) bool { return order(ev, m) <= 0 })
	}
	if n := limitOf(fl.Limit); len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// eventCompare is the order of keys as the store applies it: default
// generated then message_id, ascending; message_id ascending appended.
func eventCompare(keys []store.EventSort) func(a, b sample.Event) int {
	keys = append(slices.Clip(keys), store.EventSort{Key: store.EventSortMessageID})
	if len(keys) == 1 {
		keys = append([]store.EventSort{{Key: store.EventSortGenerated}}, keys...)
	}
	return func(a, b sample.Event) int {
		for _, k := range keys {
			c := strings.Compare(a.MessageID, b.MessageID)
			if k.Key == store.EventSortGenerated {
				c = a.Generated.Compare(b.Generated)
			}
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
}

func matchEvent(fl *store.EventFilter, ev *sample.Event) (bool, error) {
	if fl.EventType != "" {
		if strings.ContainsAny(fl.EventType, "*?[") {
			if ok, _ := path.Match(fl.EventType, ev.EventType); !ok {
				return false, nil
			}
		} else if fl.EventType != ev.EventType {
			return false, nil
		}
	}
	if !fl.Start.IsZero() && ev.Generated.Before(fl.Start) {
		return false, nil
	}
	if !fl.End.IsZero() && !ev.Generated.Before(fl.End) {
		return false, nil
	}
	if fl.MessageID != "" && fl.MessageID != ev.MessageID {
		return false, nil
	}
	if p := store.EventProject(*ev); fl.Project != "" && fl.Project != p && (!fl.Unowned || p != "") {
		return false, nil
	}
	for _, tf := range fl.Traits {
		ok, err := matchTrait(tf, ev.Traits)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// matchTrait: some trait of the filter's name and type compares to its
// value by its operator.
func matchTrait(tf store.TraitFilter, traits []sample.Trait) (bool, error) {
	typ := tf.Type
	if typ == 0 {
		typ = sample.TraitText
	}
	var cmp func(t *sample.Trait) int
	switch typ {
	case sample.TraitText:
		cmp = func(t *sample.Trait) int { return strings.Compare(t.Text, tf.Value) }
	case sample.TraitInt:
		v, err := strconv.ParseInt(strings.TrimSpace(tf.Value), 10, 64)
		if err != nil {
			return false, fmt.Errorf("%w: %q is not an integer", store.ErrInvalid, tf.Value)
		}
		cmp = func(t *sample.Trait) int { return cmpInt(t.Int, v) }
	case sample.TraitFloat:
		v, err := strconv.ParseFloat(strings.TrimSpace(tf.Value), 64)
		if err != nil {
			return false, fmt.Errorf("%w: %q is not a float", store.ErrInvalid, tf.Value)
		}
		cmp = func(t *sample.Trait) int { return cmpFloat(t.Float, v) }
	case sample.TraitDatetime:
		v, err := time.Parse(time.RFC3339Nano, tf.Value)
		if err != nil {
			return false, fmt.Errorf("%w: %q is not a datetime", store.ErrInvalid, tf.Value)
		}
		cmp = func(t *sample.Trait) int { return t.Datetime.Compare(v) }
	default:
		return false, fmt.Errorf("%w: trait type %d", store.ErrInvalid, tf.Type)
	}
	for i := range traits {
		t := &traits[i]
		if t.Name != tf.Name || t.Type != typ {
			continue
		}
		c := cmp(t)
		var ok bool
		switch tf.Op {
		case "", "eq":
			ok = c == 0
		case "ne":
			ok = c != 0
		case "lt":
			ok = c < 0
		case "le":
			ok = c <= 0
		case "gt":
			ok = c > 0
		case "ge":
			ok = c >= 0
		default:
			return false, fmt.Errorf("%w: operator %q", store.ErrInvalid, tf.Op)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (f *fakeEvents) Event(_ context.Context, id, project string) (sample.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	for _, ev := range f.sorted(project) {
		if ev.MessageID == id {
			return ev, nil
		}
	}
	return sample.Event{}, fmt.Errorf("event %s: %w", id, store.ErrNotFound)
}

func (f *fakeEvents) EventTypes(_ context.Context, project string, o store.ListOptions) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	var out []string
	for _, ev := range f.sorted(project) {
		if !slices.Contains(out, ev.EventType) {
			out = append(out, ev.EventType)
		}
	}
	sort.Strings(out)
	return fakePage(out, func(t string) string { return t }, o), nil
}

// fakePage is the store's paging of a sorted listing by key: the rows
// after o.Marker, and those of the first o.Limit keys (DefaultLimit).
func fakePage[T any](rows []T, key func(T) string, o store.ListOptions) []T {
	limit := o.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	var out []T
	keys := 0
	for i, r := range rows {
		if o.Marker != "" && key(r) <= o.Marker {
			continue
		}
		if i == 0 || len(out) == 0 || key(rows[i-1]) != key(r) {
			if keys++; keys > limit {
				break
			}
		}
		out = append(out, r)
	}
	return out
}

func (f *fakeEvents) TraitDescriptions(_ context.Context, eventType, project string, o store.ListOptions) ([]store.TraitDesc, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	var out []store.TraitDesc
	for _, ev := range f.sorted(project) {
		if eventType != "" && ev.EventType != eventType {
			continue
		}
		for _, t := range ev.Traits {
			d := store.TraitDesc{Name: t.Name, Type: t.Type}
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Type < out[j].Type
	})
	return fakePage(out, func(d store.TraitDesc) string { return d.Name }, o), nil
}

func (f *fakeEvents) Traits(_ context.Context, eventType, trait, project string, limit int) ([]sample.Trait, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if trait == "" {
		return nil, fmt.Errorf("%w: empty trait name", store.ErrInvalid)
	}
	var out []sample.Trait
	for _, ev := range f.sorted(project) {
		if eventType != "" && ev.EventType != eventType {
			continue
		}
		for _, t := range ev.Traits {
			if t.Name == trait && len(out) < max(limit, 1) {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// The event types of the fixture.
const (
	evCreate = "compute.instance.create.end"
	evDelete = "compute.instance.delete.end"
	evImage  = "image.upload"
)

// eventFixture returns the events of the tests, oldest first: project A
// has three events (one of them through tenant_id only), project B two
// (image.upload only in B), and one event belongs to no project.
func eventFixture() []sample.Event {
	text := func(n, v string) sample.Trait { return sample.Trait{Name: n, Type: sample.TraitText, Text: v} }
	integer := func(n string, v int64) sample.Trait { return sample.Trait{Name: n, Type: sample.TraitInt, Int: v} }
	float := func(n string, v float64) sample.Trait {
		return sample.Trait{Name: n, Type: sample.TraitFloat, Float: v}
	}
	datetime := func(n string, v time.Time) sample.Trait {
		return sample.Trait{Name: n, Type: sample.TraitDatetime, Datetime: v}
	}
	at := func(minute int) time.Time { return t0.Add(time.Duration(minute)*time.Minute + 250*time.Microsecond) }
	return []sample.Event{
		{MessageID: "ev-a1", EventType: evCreate, Generated: at(0), Traits: []sample.Trait{
			text("project_id", projectA), text("instance_id", "vm-1"), text("host", "h1"),
			integer("memory_mb", 512), float("disk_gb", 1.5), datetime("launched_at", t0),
		}, Raw: []byte(`{"event_type": "compute.instance.create.end", "payload": {"instance_id": "vm-1"}}`)},
		{MessageID: "ev-b1", EventType: evCreate, Generated: at(1), Traits: []sample.Trait{
			text("project_id", projectB), text("instance_id", "vm-9"), text("host", "h9"),
			integer("memory_mb", 4096), float("disk_gb", 80), datetime("launched_at", t0.Add(time.Minute)),
		}},
		{MessageID: "ev-a2", EventType: evCreate, Generated: at(2), Traits: []sample.Trait{
			text("tenant_id", projectA), text("instance_id", "vm-2"), text("host", "h2"),
			integer("memory_mb", 2048), float("disk_gb", 20), datetime("launched_at", t0.Add(2*time.Minute+123456*time.Microsecond)),
		}},
		{MessageID: "ev-a3", EventType: evDelete, Generated: at(3), Traits: []sample.Trait{
			text("project_id", projectA), text("instance_id", "vm-1"), text("state", "deleted"),
		}},
		{MessageID: "ev-b2", EventType: evImage, Generated: at(3), Traits: []sample.Trait{
			text("project_id", projectB), text("image_id", "img-1"), integer("size", 1<<30),
		}},
		{MessageID: "ev-x1", EventType: "identity.authenticate", Generated: at(4), Traits: []sample.Trait{
			text("outcome", "success"),
		}},
	}
}
