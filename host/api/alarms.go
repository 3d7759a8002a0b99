package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/altimeter/altimeter/host/alarm"
	"github.com/altimeter/altimeter/sdk/sample"
)

// AlarmService is the alarm model the Aodh v2 endpoints serve
// (*alarm.Service). Reads serve this member's applied state; writes go
// through the cluster leader and are visible here when they return.
type AlarmService interface {
	Create(ctx context.Context, who alarm.Caller, b *alarm.Body) (alarm.Alarm, error)
	Get(who alarm.Caller, id string) (alarm.Alarm, error)
	List(who alarm.Caller, keep func(*alarm.Alarm) bool) []alarm.Alarm
	Update(ctx context.Context, who alarm.Caller, id string, b *alarm.Body) (alarm.Alarm, error)
	Delete(ctx context.Context, who alarm.Caller, id string) error
	SetState(ctx context.Context, who alarm.Caller, id, state string) (alarm.Alarm, error)
	History(who alarm.Caller, keep func(*alarm.Change) bool) []alarm.Change
	AlarmHistory(who alarm.Caller, id string) ([]alarm.Change, error)
}

// defaultAlarmLimit is the page of an alarm listing without a limit,
// Aodh's default_api_return_limit.
const defaultAlarmLimit = 100

// registerAlarms adds Aodh's v2 alarm endpoints to v2.
func (s *Server) registerAlarms(v2 *gin.RouterGroup) {
	a := v2.Group("", s.authenticate(), s.countErrors())
	one := alarmRoute{id: true, status: http.StatusOK}
	a.GET("/alarms", s.alarmHandler(alarmRoute{params: []string{"limit", "marker", "sort"}, status: http.StatusOK}, s.listAlarms))
	a.POST("/alarms", s.alarmHandler(alarmRoute{body: true, status: http.StatusCreated}, s.createAlarm))
	a.GET("/alarms/:id", s.alarmHandler(one, s.getAlarm))
	a.PUT("/alarms/:id", s.alarmHandler(alarmRoute{id: true, body: true, status: http.StatusOK}, s.updateAlarm))
	a.DELETE("/alarms/:id", s.alarmHandler(alarmRoute{id: true, status: http.StatusNoContent}, s.deleteAlarm))
	a.GET("/alarms/:id/state", s.alarmHandler(one, s.getAlarmState))
	a.PUT("/alarms/:id/state", s.alarmHandler(alarmRoute{params: []string{"state"}, id: true, status: http.StatusOK}, s.setAlarmState))
	a.GET("/alarms/:id/history", s.alarmHandler(alarmRoute{params: []string{"limit", "marker", "sort"}, id: true, status: http.StatusOK}, s.alarmHistory))
	query := alarmRoute{status: http.StatusOK}
	a.POST("/query/alarms", s.alarmHandler(query, s.queryAlarms))
	a.POST("/query/alarms/history", s.alarmHandler(query, s.queryAlarmHistory))
}

// alarmCapabilities are the alarm entries of /v2/capabilities, as Aodh.
func alarmCapabilities(api map[string]bool) {
	for _, k := range []string{"alarms:query:simple", "alarms:query:complex", "alarms:history:query:simple", "alarms:history:query:complex"} {
		api[k] = true
	}
}

func caller(c *gin.Context) alarm.Caller {
	p := principal(c)
	return alarm.Caller{Project: p.Project, Admin: p.IsAdmin(), User: p.TokenID}
}

// alarmError gives an alarm service error its status (through the API's
// sentinels) while keeping Aodh's message as the fault string.
type alarmError struct{ err, kind error }

func (e *alarmError) Error() string   { return e.err.Error() }
func (e *alarmError) Unwrap() []error { return []error{e.kind, e.err} }

func alarmErr(err error) error {
	switch {
	case errors.Is(err, alarm.ErrUnknownAlarm):
		return &alarmError{err, ErrNotFound}
	case errors.Is(err, alarm.ErrInvalid):
		return &alarmError{err, ErrBadRequest}
	case errors.Is(err, alarm.ErrConflict):
		return &alarmError{err, ErrConflict}
	}
	return err
}

// alarmRoute is what an alarm handler reads before its call: the query
// parameters it allows (besides q.*), whether its path has an :id (an id
// no alarm can have is a 404 without a lookup), whether its body is an
// alarm (413 past alarm.MaxBodyBytes, 400 naming the field), and the
// status of its answer.
type alarmRoute struct {
	params   []string
	id, body bool
	status   int
}

// alarmReq is what alarmRoute read: the caller, the id and the body.
type alarmReq struct {
	who  alarm.Caller
	id   string
	body *alarm.Body
}

// alarmHandler reads rt, then answers with what call returns (no body
// when nil); call's errors are mapped by alarmErr.
func (s *Server) alarmHandler(rt alarmRoute, call func(c *gin.Context, r alarmReq) (any, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		r, err := rt.read(c)
		if err != nil {
			abort(c, err)
			return
		}
		out, err := call(c, r)
		if err != nil {
			abort(c, alarmErr(err))
			return
		}
		if out == nil {
			c.Status(rt.status)
			return
		}
		c.JSON(rt.status, out)
	}
}

func (rt alarmRoute) read(c *gin.Context) (alarmReq, error) {
	r := alarmReq{who: caller(c)}
	if err := checkParams(c, rt.params...); err != nil {
		return r, err
	}
	if rt.id {
		r.id = c.Param("id")
		if r.id == "" || len(r.id) > alarm.MaxIDLen {
			return r, fmt.Errorf("alarm %.64q: %w", r.id, ErrNotFound)
		}
	}
	if rt.body {
		raw, err := readBodyMax(c, alarm.MaxBodyBytes)
		if err != nil {
			return r, err
		}
		if r.body, err = alarm.DecodeBody(raw); err != nil {
			return r, alarmErr(err)
		}
	}
	return r, nil
}

// renderAlarm is the answer of one alarm, or its error.
func renderAlarm(a alarm.Alarm, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return alarm.Render(&a), nil
}

// alarmState is the answer of an alarm's state, or its error.
func alarmState(a alarm.Alarm, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return a.State, nil
}

func (s *Server) createAlarm(c *gin.Context, r alarmReq) (any, error) {
	return renderAlarm(s.opts.Alarms.Create(c.Request.Context(), r.who, r.body))
}

func (s *Server) getAlarm(_ *gin.Context, r alarmReq) (any, error) {
	return renderAlarm(s.opts.Alarms.Get(r.who, r.id))
}

func (s *Server) updateAlarm(c *gin.Context, r alarmReq) (any, error) {
	return renderAlarm(s.opts.Alarms.Update(c.Request.Context(), r.who, r.id, r.body))
}

func (s *Server) deleteAlarm(c *gin.Context, r alarmReq) (any, error) {
	return nil, s.opts.Alarms.Delete(c.Request.Context(), r.who, r.id)
}

func (s *Server) getAlarmState(_ *gin.Context, r alarmReq) (any, error) {
	return alarmState(s.opts.Alarms.Get(r.who, r.id))
}

// setAlarmState takes a JSON string ("ok", "alarm", "insufficient data")
// and answers with the new state, as Aodh.
func (s *Server) setAlarmState(c *gin.Context, r alarmReq) (any, error) {
	raw, err := readBodyMax(c, 1024)
	if err != nil {
		return nil, err
	}
	var state string
	if v, ok := c.GetQuery("state"); ok && len(bytes.TrimSpace(raw)) == 0 {
		state = v
	} else if err := json.Unmarshal(raw, &state); err != nil {
		return nil, fmt.Errorf("%w: Invalid input for field/attribute state. The body must be a JSON string such as \"ok\"", ErrBadRequest)
	}
	return alarmState(s.opts.Alarms.SetState(c.Request.Context(), r.who, r.id, state))
}

// pageParams are limit, marker and sort of a listing.
type pageParams struct {
	limit  int
	marker string
	sort   []alarm.SortKey
}

// readPage reads limit (Aodh's default when absent, at most max_limit:
// more is a counted 400, as on every listing), marker and sort.
func (s *Server) readPage(c *gin.Context, sortFields []string, defaultLimit int) (pageParams, error) {
	p := pageParams{limit: min(defaultLimit, s.limits.MaxLimit), marker: c.Query("marker")}
	if v, ok := c.GetQuery("limit"); ok {
		n, err := parseLimit(v, s.limits.MaxLimit)
		if err != nil {
			return p, err
		}
		p.limit = n
	}
	keys, err := alarm.ParseSort(c.QueryArray("sort"), sortFields)
	if err != nil {
		return p, alarmErr(err)
	}
	p.sort = keys
	return p, nil
}

// pageOf returns the rows after the one whose id is marker, at most limit
// (an unknown marker is a 400, as Aodh).
func pageOf[T any](rows []T, id func(*T) string, marker string, limit int) ([]T, error) {
	if marker != "" {
		i := slices.IndexFunc(rows, func(r T) bool { return id(&r) == marker })
		if i < 0 {
			return nil, fmt.Errorf("%w: Invalid input for field/attribute marker. Value: '%.64s'. Marker not found", ErrBadRequest, marker)
		}
		rows = rows[i+1:]
	}
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	return rows, nil
}

func (s *Server) listAlarms(c *gin.Context, r alarmReq) (any, error) {
	pg, err := s.readPage(c, alarm.AlarmFields, defaultAlarmLimit)
	if err != nil {
		return nil, err
	}
	root, err := s.simpleFilter(c, alarmQueryFields)
	if err != nil {
		return nil, err
	}
	rows := s.opts.Alarms.List(r.who, alarmPredicate(root))
	sortAlarms(rows, pg.sort)
	rows, err = pageOf(rows, func(a *alarm.Alarm) string { return a.ID }, pg.marker, pg.limit)
	if err != nil {
		return nil, err
	}
	return renderAlarms(rows), nil
}

func sortAlarms(rows []alarm.Alarm, keys []alarm.SortKey) {
	if len(keys) == 0 {
		keys = []alarm.SortKey{{Field: "timestamp", Desc: true}}
	}
	alarm.SortAlarms(rows, keys)
}

func renderAlarms(rows []alarm.Alarm) []map[string]any {
	out := make([]map[string]any, len(rows))
	for i := range rows {
		out[i] = alarm.Render(&rows[i])
	}
	return out
}

func renderChanges(rows []alarm.Change) []map[string]any {
	out := make([]map[string]any, len(rows))
	for i := range rows {
		out[i] = alarm.RenderChange(&rows[i])
	}
	return out
}

func (s *Server) alarmHistory(c *gin.Context, r alarmReq) (any, error) {
	pg, err := s.readPage(c, alarm.ChangeFields, defaultAlarmLimit)
	if err != nil {
		return nil, err
	}
	root, err := s.simpleFilter(c, changeQueryFields)
	if err != nil {
		return nil, err
	}
	rows, err := s.opts.Alarms.AlarmHistory(r.who, r.id)
	if err != nil {
		return nil, err
	}
	keep := changePredicate(root)
	rows = slices.DeleteFunc(rows, func(ch alarm.Change) bool { return !keep(&ch) })
	alarm.SortChanges(rows, pg.sort)
	rows, err = pageOf(rows, func(ch *alarm.Change) string { return ch.EventID }, pg.marker, pg.limit)
	if err != nil {
		return nil, err
	}
	return renderChanges(rows), nil
}

// decodeAlarmQuery decodes a complex query body over fs (alarms or their
// history): filter (at most max_query_leaves conditions), orderby, limit
// (at most max_limit, which is also the default), as for samples.
func (s *Server) decodeAlarmQuery(c *gin.Context, fs queryFields, orderFields []string) (*expr, []alarm.SortKey, int, error) {
	raw, err := readBody(c)
	if err != nil {
		return nil, nil, 0, err
	}
	var q complexQuery
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			return nil, nil, 0, fmt.Errorf("%w: query body: %v", ErrBadRequest, err)
		}
		if dec.More() {
			return nil, nil, 0, fmt.Errorf("%w: query body: trailing data after the object", ErrBadRequest)
		}
	}
	limit := s.limits.MaxLimit
	if n, err := parseBodyLimit(q.Limit); err != nil {
		return nil, nil, 0, err
	} else if n > 0 {
		if err := checkLimit(n, s.limits.MaxLimit); err != nil {
			return nil, nil, 0, err
		}
		limit = int(n)
	}
	var root *expr
	if f, err := unwrapJSONString(q.Filter, "filter"); err != nil {
		return nil, nil, 0, err
	} else if f != nil {
		if root, err = decodeFilterOf(f, fs); err != nil {
			return nil, nil, 0, err
		}
		if err := s.checkLeaves(root); err != nil {
			return nil, nil, 0, err
		}
	}
	var keys []alarm.SortKey
	if ob, err := unwrapJSONString(q.OrderBy, "orderby"); err != nil {
		return nil, nil, 0, err
	} else if ob != nil {
		var list []map[string]string
		if err := json.Unmarshal(ob, &list); err != nil {
			return nil, nil, 0, fmt.Errorf("%w: order-by expression not valid: want an array of {\"field\": \"asc|desc\"}: %v", ErrBadRequest, err)
		}
		if len(list) > len(orderFields) {
			return nil, nil, 0, fmt.Errorf("%w: order-by expression not valid: at most %d terms", ErrBadRequest, len(orderFields))
		}
		var specs []string
		for _, m := range list {
			if len(m) != 1 {
				return nil, nil, 0, fmt.Errorf("%w: order-by expression not valid: each term must have exactly one field", ErrBadRequest)
			}
			for k, dir := range m {
				specs = append(specs, fs.canonical(k)+":"+strings.ToLower(dir))
			}
		}
		if keys, err = alarm.ParseSort(specs, orderFields); err != nil {
			return nil, nil, 0, fmt.Errorf("%w: order-by expression not valid: %v", ErrBadRequest, err)
		}
	}
	return root, keys, limit, nil
}

func (s *Server) queryAlarms(c *gin.Context, r alarmReq) (any, error) {
	root, keys, limit, err := s.decodeAlarmQuery(c, alarmQueryFields, alarm.AlarmFields)
	if err != nil {
		return nil, err
	}
	rows := s.opts.Alarms.List(r.who, alarmPredicate(root))
	sortAlarms(rows, keys)
	return renderAlarms(rows[:min(limit, len(rows))]), nil
}

func (s *Server) queryAlarmHistory(c *gin.Context, r alarmReq) (any, error) {
	root, keys, limit, err := s.decodeAlarmQuery(c, changeQueryFields, alarm.ChangeFields)
	if err != nil {
		return nil, err
	}
	rows := s.opts.Alarms.History(r.who, changePredicate(root))
	alarm.SortChanges(rows, keys)
	return renderChanges(rows[:min(limit, len(rows))]), nil
}

// Field vocabularies of alarm and history queries.
var (
	alarmQueryFields  = modelFields(alarm.AlarmFields, map[string]string{"project": "project_id", "user": "user_id", "id": "alarm_id"})
	changeQueryFields = modelFields(alarm.ChangeFields, map[string]string{"project": "project_id", "user": "user_id", "alarm": "alarm_id"})
)

func modelFields(fields []string, aliases map[string]string) queryFields {
	canonical := func(name string) string {
		if f, ok := aliases[name]; ok {
			return f
		}
		if slices.Contains(fields, name) {
			return name
		}
		return ""
	}
	return queryFields{canonical: canonical, convert: convertModelLiteral}
}

// convertModelLiteral converts a literal for an alarm or history field:
// timestamps want ISO 8601, enabled and repeat_actions a boolean (or its
// text), the rest text.
func convertModelLiteral(field string, v value) (value, error) {
	switch field {
	case "timestamp", "state_timestamp":
		if v.kind != valString {
			return value{}, fmt.Errorf("%w: field %s wants an ISO 8601 timestamp, got %s", ErrBadRequest, field, v.s)
		}
		t, err := sample.ParseISOTime(v.s)
		if err != nil {
			return value{}, fmt.Errorf("%w: field %s: %v", ErrBadRequest, field, err)
		}
		return value{kind: valTime, s: v.s, t: t}, nil
	case "enabled", "repeat_actions":
		if v.kind == valBool {
			return v, nil
		}
		b, err := parseBoolStrict(v.s)
		if err != nil {
			return value{}, fmt.Errorf("%w: field %s wants a boolean, got %q", ErrBadRequest, field, v.s)
		}
		return value{kind: valBool, s: v.s, b: b}, nil
	}
	if v.kind == valBool {
		return value{}, fmt.Errorf("%w: field %s wants a string, got %s", ErrBadRequest, field, v.s)
	}
	return value{kind: valString, s: v.s}, nil
}

// simpleFilter parses Aodh's q.field/q.op/q.value over fs into an AND of
// leaves (nil when there are none), at most max_query_leaves of them.
func (s *Server) simpleFilter(c *gin.Context, fs queryFields) (*expr, error) {
	terms, err := simpleTerms(c.Request.URL.Query())
	if err != nil {
		return nil, err
	}
	if err := s.checkConditions("q.field", len(terms)); err != nil {
		return nil, err
	}
	var kids []*expr
	for _, t := range terms {
		field := fs.canonical(t.field)
		if field == "" {
			return nil, fmt.Errorf("%w: Invalid input for field/attribute q.field. Value: '%.64s'. Unknown field", ErrBadRequest, t.field)
		}
		sym, ok := simpleOps[t.op]
		if !ok {
			return nil, fmt.Errorf("%w: Invalid input for field/attribute q.op. Value: '%.16s'. Unknown operator (want eq, ne, lt, le, gt or ge)", ErrBadRequest, t.op)
		}
		v, err := fs.convert(field, value{kind: valString, s: t.value})
		if err != nil {
			return nil, err
		}
		leaf, err := newLeaf(sym, field, []value{v})
		if err != nil {
			return nil, err
		}
		kids = append(kids, leaf)
	}
	switch len(kids) {
	case 0:
		return nil, nil
	case 1:
		return kids[0], nil
	}
	return &expr{op: opAnd, kids: kids}, nil
}

// holds evaluates e against a row's field accessor.
func holds(e *expr, get func(field string) (value, bool)) bool {
	switch e.op {
	case opAnd:
		for _, k := range e.kids {
			if !holds(k, get) {
				return false
			}
		}
		return true
	case opOr:
		for _, k := range e.kids {
			if holds(k, get) {
				return true
			}
		}
		return false
	case opNot:
		return !holds(e.kids[0], get)
	}
	have, ok := get(e.field)
	return ok && leafHolds(e, have)
}

func modelValue(v any, ok bool) (value, bool) {
	if !ok {
		return value{}, false
	}
	switch x := v.(type) {
	case string:
		return value{kind: valString, s: x}, true
	case bool:
		return value{kind: valBool, s: strconv.FormatBool(x), b: x}, true
	case time.Time:
		return value{kind: valTime, t: x}, true
	}
	return value{}, false
}

func alarmPredicate(root *expr) func(*alarm.Alarm) bool {
	if root == nil {
		return nil
	}
	return func(a *alarm.Alarm) bool {
		return holds(root, func(f string) (value, bool) { return modelValue(alarm.AlarmField(a, f)) })
	}
}

func changePredicate(root *expr) func(*alarm.Change) bool {
	if root == nil {
		return func(*alarm.Change) bool { return true }
	}
	return func(ch *alarm.Change) bool {
		return holds(root, func(f string) (value, bool) { return modelValue(alarm.ChangeField(ch, f)) })
	}
}
