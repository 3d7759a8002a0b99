package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/altimeter/altimeter/host/alarm"
	"github.com/altimeter/altimeter/host/archive"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/sample"
)

// The Panko v2 event endpoints: GET /v2/events (simple query over the
// event fields and traits; limit, marker and sort), GET /v2/events/{message_id}, GET
// /v2/event_types and the trait descriptions and values of a type. A member
// token is confined to the events of its project (store.EventProject:
// the project_id trait, else tenant_id). An admin sees every project's;
// Panko's all_tenants switch is read by takeAllTenants.

// registerEvents adds the event endpoints to v2.
func (s *Server) registerEvents(v2 *gin.RouterGroup) {
	e := v2.Group("", s.authenticate(), s.deadline(), s.countErrors())
	e.GET("/events", s.listEvents)
	e.GET("/events/:message_id", s.getEvent)
	e.GET("/event_types", s.listEventTypes)
	e.GET("/event_types/:event_type/traits", s.listTraitDescriptions)
	e.GET("/event_types/:event_type/traits/:trait_name", s.listTraits)
}

// The fields of an event query that are not trait names, as Panko.
const (
	evFieldType    = "event_type"
	evFieldMessage = "message_id"
	evFieldStart   = "start_timestamp"
	evFieldEnd     = "end_timestamp"
)

// eventOps are the operators each event field takes; trait filters take
// every simple operator. eq on start_timestamp and end_timestamp is Panko's
// form (generated >= start, generated <= end).
var eventOps = map[string][]string{
	evFieldType:    {"eq"},
	evFieldMessage: {"eq"},
	evFieldStart:   {"eq", "ge", "gt"},
	evFieldEnd:     {"eq", "le", "lt"},
}

// traitTypes are the q.type values of a trait filter, as Panko's
// EventQuery; empty means string.
var traitTypes = map[string]sample.TraitType{
	"": sample.TraitText, "string": sample.TraitText, "integer": sample.TraitInt,
	"float": sample.TraitFloat, "datetime": sample.TraitDatetime,
}

// projectTraits are the traits store.EventProject reads the project from: a
// member filtering on one of them names a project.
var projectTraits = []string{"project_id", "tenant_id"}

// Event times the store can hold (its index keeps nanoseconds since 1970).
var (
	minEventTime = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEventTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseEventQuery decodes the q.field/q.op/q.value/q.type lists of GET
// /v2/events into a filter confined to scope ("" for an admin). A trait
// filter naming another project than scope on project_id or tenant_id is
// ErrForbidden; anything malformed is ErrBadRequest naming the field.
func parseEventQuery(params url.Values, scope string) (store.EventFilter, error) {
	f := store.EventFilter{Project: scope}
	terms, err := simpleTerms(params)
	if err != nil {
		return f, err
	}
	seen := map[string]bool{}
	for i, t := range terms {
		name, op, typ, raw := t.field, t.op, t.typ, t.value
		if name == "" {
			return f, fmt.Errorf("%w: q.field %d is empty", ErrBadRequest, i+1)
		}
		if _, ok := simpleOps[op]; !ok {
			return f, fmt.Errorf("%w: field %s: unknown operator %q (want eq, ne, lt, le, gt or ge)", ErrBadRequest, name, op)
		}
		allowed, isEventField := eventOps[name]
		if !isEventField {
			tf, err := traitFilter(name, op, typ, raw, scope)
			if err != nil {
				return f, err
			}
			f.Traits = append(f.Traits, tf)
			continue
		}
		if !slices.Contains(allowed, op) {
			return f, fmt.Errorf("%w: field %s: operator %s is not supported (want %s)", ErrBadRequest, name, op, strings.Join(allowed, ", "))
		}
		if seen[name] {
			return f, fmt.Errorf("%w: field %s is given more than once", ErrBadRequest, name)
		}
		seen[name] = true
		switch name {
		case evFieldType, evFieldMessage:
			if typ != "" && typ != "string" {
				return f, fmt.Errorf("%w: field %s: type %q is not supported (want string)", ErrBadRequest, name, typ)
			}
			if raw == "" {
				return f, fmt.Errorf("%w: field %s: empty value", ErrBadRequest, name)
			}
			if name == evFieldType {
				if err := checkEventTypeGlob(raw); err != nil {
					return f, err
				}
				f.EventType = raw
			} else {
				f.MessageID = raw
			}
		case evFieldStart, evFieldEnd:
			if typ != "" && typ != "string" && typ != "datetime" {
				return f, fmt.Errorf("%w: field %s: type %q is not supported (want datetime)", ErrBadRequest, name, typ)
			}
			t, err := sample.ParseISOTime(raw)
			if err != nil {
				return f, fmt.Errorf("%w: field %s: %v", ErrBadRequest, name, err)
			}
			// The store's range is [Start, End) in nanoseconds: gt and le
			// move the bound by one nanosecond.
			switch op {
			case "gt":
				t = t.Add(time.Nanosecond)
			case "eq", "le":
				if name == evFieldEnd {
					t = t.Add(time.Nanosecond)
				}
			}
			// Clamped to the store's range, so year 1 is a bound and not
			// the zero time (no bound).
			if t.Before(minEventTime) {
				t = minEventTime
			} else if t.After(maxEventTime) {
				t = maxEventTime
			}
			if name == evFieldStart {
				f.Start = t
			} else {
				f.End = t
			}
		}
	}
	return f, nil
}

// maxEventTypeBytes bounds an event_type condition (a type or a glob).
const maxEventTypeBytes = 255

// checkEventTypeGlob bounds an event_type condition: its length, and its
// '*' wildcards as the notification archive's globs (SQLite's GLOB
// backtracks on each).
func checkEventTypeGlob(g string) error {
	if len(g) > maxEventTypeBytes {
		return fmt.Errorf("%w: field %s: %d bytes, more than the maximum %d", ErrBadRequest, evFieldType, len(g), maxEventTypeBytes)
	}
	if n := strings.Count(g, "*"); n > archive.MaxGlobStars {
		return fmt.Errorf("%w: field %s: %d '*' wildcards, more than the maximum %d", ErrBadRequest, evFieldType, n, archive.MaxGlobStars)
	}
	return nil
}

// traitFilter validates one trait condition and gives the store its value
// in canonical form (so the store's parser agrees with ours).
func traitFilter(name, op, typ, raw, scope string) (store.TraitFilter, error) {
	tt, ok := traitTypes[typ]
	if !ok {
		return store.TraitFilter{}, fmt.Errorf("%w: field %s: type %q is not supported (want string, integer, float or datetime)", ErrBadRequest, name, typ)
	}
	tf := store.TraitFilter{Name: name, Op: op, Type: tt, Value: raw}
	switch tt {
	case sample.TraitInt:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return tf, fmt.Errorf("%w: field %s: unable to convert %q to integer", ErrBadRequest, name, raw)
		}
		tf.Value = strconv.FormatInt(n, 10)
	case sample.TraitFloat:
		x, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return tf, fmt.Errorf("%w: field %s: unable to convert %q to float", ErrBadRequest, name, raw)
		}
		tf.Value = strconv.FormatFloat(x, 'g', -1, 64)
	case sample.TraitDatetime:
		t, err := sample.ParseISOTime(raw)
		if err != nil {
			return tf, fmt.Errorf("%w: field %s: %v", ErrBadRequest, name, err)
		}
		if t.Before(minEventTime) || !t.Before(maxEventTime) {
			return tf, fmt.Errorf("%w: field %s: %s is outside 1678..2261", ErrBadRequest, name, raw)
		}
		tf.Value = t.Format(time.RFC3339Nano)
	}
	if scope != "" && slices.Contains(projectTraits, name) && raw != scope {
		return tf, fmt.Errorf("%w: project %s is not yours", ErrForbidden, raw)
	}
	return tf, nil
}

// eventSortKeys are the keys of Panko's event sort (its Event model's
// SUPPORT_SORT_KEYS).
var eventSortKeys = []string{store.EventSortMessageID, store.EventSortGenerated}

// parseEventSort reads Panko's sort parameters: key[:asc|desc] (asc when
// left out), repeated or comma-separated, at most one per key. A key given
// again is ignored, as the later ORDER BY term is in Panko's SQL. Empty is
// the store's default, generated:asc,message_id:asc.
func parseEventSort(params []string) ([]store.EventSort, error) {
	var items []string
	for _, p := range params {
		items = append(items, strings.Split(p, ",")...)
		if len(items) > 2*len(eventSortKeys) {
			return nil, fmt.Errorf("%w: sort: more than %d keys", ErrBadRequest, 2*len(eventSortKeys))
		}
	}
	var out []store.EventSort
	for _, item := range items {
		keys, err := alarm.ParseSort([]string{item}, eventSortKeys)
		if err != nil {
			return nil, alarmErr(err)
		}
		k := store.EventSort{Key: keys[0].Field, Desc: keys[0].Desc}
		if !slices.ContainsFunc(out, func(o store.EventSort) bool { return o.Key == k.Key }) {
			out = append(out, k)
		}
	}
	return out, nil
}

// evFieldAllTenants is Panko's admin switch, a q.field that is no trait.
const evFieldAllTenants = "all_tenants"

// takeAllTenants removes the all_tenants conditions from the simple query
// of GET /v2/events and returns their value (nil when absent), as Panko
// reads them: q.field=all_tenants&q.value=true asks for every project's
// events. It must be eq, once, and a boolean as oslo's bool_from_string
// spells one; a member asking for true is ErrForbidden (Panko reads the
// field as a trait filter for a member, which matches nothing). Lists
// that are not paired are left for parseEventQuery to report.
func takeAllTenants(params url.Values, scope string) (url.Values, *bool, error) {
	terms, err := simpleTerms(params)
	if err != nil || !slices.ContainsFunc(terms, func(t simpleTerm) bool { return t.field == evFieldAllTenants }) {
		return params, nil, nil
	}
	out := url.Values{}
	for k, v := range params {
		if !strings.HasPrefix(k, "q.") {
			out[k] = v
		}
	}
	var all *bool
	for _, t := range terms {
		if t.field != evFieldAllTenants {
			out["q.field"] = append(out["q.field"], t.field)
			out["q.value"] = append(out["q.value"], t.value)
			out["q.op"] = append(out["q.op"], t.op)
			out["q.type"] = append(out["q.type"], t.typ)
			continue
		}
		if all != nil {
			return nil, nil, fmt.Errorf("%w: field %s is given more than once", ErrBadRequest, t.field)
		}
		if t.op != "eq" {
			return nil, nil, fmt.Errorf("%w: field %s: operator %s is not supported (want eq)", ErrBadRequest, t.field, t.op)
		}
		if t.typ != "" && t.typ != "string" && t.typ != "boolean" {
			return nil, nil, fmt.Errorf("%w: field %s: type %q is not supported (want boolean)", ErrBadRequest, t.field, t.typ)
		}
		var b bool
		switch strings.ToLower(strings.TrimSpace(t.value)) {
		case "1", "t", "true", "on", "y", "yes":
			b = true
		case "0", "f", "false", "off", "n", "no":
		default:
			return nil, nil, fmt.Errorf("%w: field %s: %.64q is not a boolean", ErrBadRequest, t.field, t.value)
		}
		if b && scope != "" {
			return nil, nil, fmt.Errorf("%w: field %s: only an admin may list every project's events", ErrForbidden, t.field)
		}
		all = &b
	}
	return out, all, nil
}

func (s *Server) listEvents(c *gin.Context) {
	if err := checkParams(c, "limit", "marker", "sort"); err != nil {
		abort(c, err)
		return
	}
	o, err := s.page(c)
	if err != nil {
		abort(c, err)
		return
	}
	order, err := parseEventSort(c.QueryArray("sort"))
	if err != nil {
		abort(c, err)
		return
	}
	sc := scope(c)
	if err := s.checkConditions("q.field", len(c.QueryArray("q.field"))); err != nil {
		abort(c, err)
		return
	}
	params, all, err := takeAllTenants(c.Request.URL.Query(), sc)
	if err != nil {
		abort(c, err)
		return
	}
	f, err := parseEventQuery(params, sc)
	if err != nil {
		abort(c, err)
		return
	}
	if pr := principal(c); all != nil && !*all && pr.IsAdmin() && pr.Project != "" {
		// all_tenants=false: Panko's admin view, the events of the token's
		// project and those of none. Without the switch an admin sees
		// every project, as everywhere in Altimeter.
		f.Project, f.Unowned = pr.Project, true
	}
	f.Limit, f.Marker, f.Sort = o.Limit, o.Marker, order
	ctx := c.Request.Context()
	if f.Marker != "" && sc != "" {
		// The store finds a marker among every project's events: a member
		// may only page from its own, and must not learn of the others.
		if _, err := s.opts.Events.Event(ctx, f.Marker, sc); errors.Is(err, store.ErrNotFound) {
			abort(c, fmt.Errorf("%w: marker: unknown event %s", ErrBadRequest, f.Marker))
			return
		} else if err != nil {
			abort(c, fmt.Errorf("look up marker %s: %w", f.Marker, err))
			return
		}
	}
	evs, err := s.opts.Events.Events(ctx, f)
	if err != nil {
		abort(c, fmt.Errorf("list events: %w", s.stopped(ctx, err)))
		return
	}
	writeList(c, http.StatusOK, evs, renderEvent)
}

func (s *Server) getEvent(c *gin.Context) {
	if err := checkParams(c); err != nil {
		abort(c, err)
		return
	}
	id := c.Param("message_id")
	ev, err := s.opts.Events.Event(c.Request.Context(), id, scope(c))
	if err != nil {
		abort(c, fmt.Errorf("get event %s: %w", id, err))
		return
	}
	c.JSON(http.StatusOK, renderEvent(&ev))
}

// listEventTypes lists the event types, sorted: a page of limit (at most
// max_limit; store.DefaultLimit when absent) after marker (a type), which
// Panko does not have (it lists them all).
func (s *Server) listEventTypes(c *gin.Context) {
	if err := checkParams(c, "limit", "marker"); err != nil {
		abort(c, err)
		return
	}
	o, err := s.page(c)
	if err != nil {
		abort(c, err)
		return
	}
	ctx := c.Request.Context()
	ts, err := s.opts.Events.EventTypes(ctx, scope(c), o)
	if err != nil {
		abort(c, fmt.Errorf("list event types: %w", s.stopped(ctx, err)))
		return
	}
	if ts == nil {
		ts = []string{}
	}
	c.JSON(http.StatusOK, ts)
}

// eventTypeParam is the event type of the path; the store reads an empty
// type as every type, which the path cannot mean.
func eventTypeParam(c *gin.Context) (string, error) {
	t := c.Param("event_type")
	if t == "" {
		return "", fmt.Errorf("%w: event_type: empty", ErrBadRequest)
	}
	return t, nil
}

// listTraitDescriptions lists the trait names and types of an event type,
// sorted: the types of limit names (as listEventTypes) after marker (a
// trait name).
func (s *Server) listTraitDescriptions(c *gin.Context) {
	if err := checkParams(c, "limit", "marker"); err != nil {
		abort(c, err)
		return
	}
	et, err := eventTypeParam(c)
	if err != nil {
		abort(c, err)
		return
	}
	o, err := s.page(c)
	if err != nil {
		abort(c, err)
		return
	}
	ctx := c.Request.Context()
	ds, err := s.opts.Events.TraitDescriptions(ctx, et, scope(c), o)
	if err != nil {
		abort(c, fmt.Errorf("list traits of %s: %w", et, s.stopped(ctx, err)))
		return
	}
	out := make([]traitDescJSON, len(ds))
	for i, d := range ds {
		out[i] = traitDescJSON{Name: d.Name, Type: d.Type.String()}
	}
	c.JSON(http.StatusOK, out)
}

// listTraits lists the values of one trait of an event type, in event
// order: the first limit (as listEventTypes). There is no marker (a value
// does not name its event): page the events themselves, GET /v2/events
// with q.field=event_type, for more.
func (s *Server) listTraits(c *gin.Context) {
	if err := checkParams(c, "limit"); err != nil {
		abort(c, err)
		return
	}
	o, err := s.page(c)
	if err != nil {
		abort(c, err)
		return
	}
	et, err := eventTypeParam(c)
	if err != nil {
		abort(c, err)
		return
	}
	name := c.Param("trait_name")
	if name == "" {
		abort(c, fmt.Errorf("%w: trait_name: empty", ErrBadRequest))
		return
	}
	ctx := c.Request.Context()
	ts, err := s.opts.Events.Traits(ctx, et, name, scope(c), o.Limit)
	if err != nil {
		abort(c, fmt.Errorf("list trait %s of %s: %w", name, et, s.stopped(ctx, err)))
		return
	}
	writeList(c, http.StatusOK, ts, renderTrait)
}

// eventJSON is Panko's Event.
type eventJSON struct {
	MessageID string      `json:"message_id"`
	EventType string      `json:"event_type"`
	Generated isoTime     `json:"generated"`
	Traits    []traitJSON `json:"traits"`
	// Raw is the notification as kept, {} when it was not.
	Raw json.RawMessage `json:"raw"`
}

// traitJSON is Panko's Trait: the value in string form.
type traitJSON struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// traitDescJSON is Panko's TraitDescription.
type traitDescJSON struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func renderEvent(ev *sample.Event) eventJSON {
	out := eventJSON{
		MessageID: ev.MessageID, EventType: ev.EventType, Generated: isoTime(ev.Generated),
		Traits: make([]traitJSON, len(ev.Traits)), Raw: rawJSON(ev.Raw),
	}
	for i := range ev.Traits {
		out.Traits[i] = renderTrait(&ev.Traits[i])
	}
	return out
}

// rawJSON is the raw payload as JSON: as kept when it is JSON, {} when
// none was kept, a JSON string of the bytes otherwise.
func rawJSON(raw []byte) json.RawMessage {
	b := bytes.TrimSpace(raw)
	switch {
	case len(b) == 0:
		return json.RawMessage("{}")
	case json.Valid(b):
		var out bytes.Buffer
		if json.Compact(&out, b) == nil {
			return out.Bytes()
		}
	}
	s, _ := json.Marshal(string(raw)) // invalid UTF-8 becomes U+FFFD
	return s
}

// renderTrait gives the value as Panko does: str() of integers and floats
// (Python's float repr), isoformat() of naive UTC datetimes.
func renderTrait(t *sample.Trait) traitJSON {
	out := traitJSON{Name: t.Name, Type: t.Type.String()}
	switch t.Type {
	case sample.TraitInt:
		out.Value = strconv.FormatInt(t.Int, 10)
	case sample.TraitFloat:
		out.Value = sample.PythonFloat(t.Float)
	case sample.TraitDatetime:
		out.Value = pyISOFormat(t.Datetime)
	default:
		out.Value = t.Text
	}
	return out
}

// pyISOFormat is Python's isoformat() of a naive UTC datetime:
// microseconds only when not zero.
func pyISOFormat(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format(isoLayout)
}
