package archive

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"
)

// MaxTimingRows bounds the notifications one Timings call reads (their
// envelope fields only: some 200 bytes each in memory).
const MaxTimingRows = 200000

// TimingQuery asks for the durations of one operation: the pairs of
// <EventType>.start and <EventType>.end (or .error) notifications of one
// request and resource.
type TimingQuery struct {
	// Scope confines to one project ("" for an admin).
	Scope string
	// EventType is the operation, without .start/.end
	// ("compute.instance.create").
	EventType string
	// GroupBy is "", "host" (the host that sent the end) or "project_id".
	GroupBy string
	// Start and End bound the start notification's timestamp: Start <= ts < End.
	Start, End time.Time
}

// Timing is the durations of one group.
type Timing struct {
	Group string // the group's host or project; "" without GroupBy
	Count int    // completed operations (an end or an error after a start)
	// Errors counts the operations that ended with .error.
	Errors int
	// Unfinished counts starts with no end yet.
	Unfinished         int
	Min, Max, Avg      time.Duration
	P50, P90, P95, P99 time.Duration
	durations          []time.Duration
}

// operationRE is what TimingQuery.EventType may hold.
var operationRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,200}$`)

// ValidOperation reports whether s can be a TimingQuery.EventType.
func ValidOperation(s string) bool { return operationRE.MatchString(s) }

// Pair is one completed operation.
type Pair struct {
	Key        string // request_id and resource_id
	Start, End Entry
	Error      bool
}

// Pairs returns the completed operations q selects, in the order of their
// starts, and how many starts have no end yet. A start pairs with the first
// end or error of the same request and resource after it.
func (db *DB) Pairs(ctx context.Context, q TimingQuery) ([]Pair, int, error) {
	if !ValidOperation(q.EventType) {
		return nil, 0, fmt.Errorf("%w: event_type %q: want letters, digits, '.', '_', ':' or '-'", ErrInvalid, q.EventType)
	}
	where := "event_type IN (?, ?, ?)"
	args := []any{q.EventType + ".start", q.EventType + ".end", q.EventType + ".error"}
	if q.Scope != "" {
		where += " AND project_id = ?"
		args = append(args, q.Scope)
	}
	if !q.Start.IsZero() {
		where += " AND ts >= ?"
		args = append(args, q.Start.UnixNano())
	}
	// Ends may come after End; they are read up to a day later.
	if !q.End.IsZero() {
		where += " AND ts < ?"
		args = append(args, q.End.Add(24*time.Hour).UnixNano())
	}
	rows, err := db.r.QueryContext(ctx, `SELECT message_id, event_type, host, ts, request_id, project_id, resource_id
		FROM notifications WHERE `+where+` ORDER BY ts, seq LIMIT ?`, append(args, MaxTimingRows+1)...)
	if err != nil {
		return nil, 0, fmt.Errorf("timings: %w", err)
	}
	defer func() { _ = rows.Close() }()
	open := map[string]Entry{}
	var (
		pairs []Pair
		n     int
	)
	for rows.Next() {
		if n++; n > MaxTimingRows {
			return nil, 0, fmt.Errorf("%w: more than %d notifications of %s: narrow the time range", ErrInvalid, MaxTimingRows, q.EventType)
		}
		var (
			e  Entry
			ts int64
		)
		if err := rows.Scan(&e.MessageID, &e.EventType, &e.Host, &ts, &e.RequestID, &e.ProjectID, &e.ResourceID); err != nil {
			return nil, 0, fmt.Errorf("timings: %w", err)
		}
		e.Timestamp = time.Unix(0, ts).UTC()
		key := e.RequestID + "\x00" + e.ResourceID
		if e.RequestID == "" && e.ResourceID == "" {
			continue // nothing to pair it by
		}
		switch e.EventType[len(q.EventType):] {
		case ".start":
			if !q.End.IsZero() && !e.Timestamp.Before(q.End) {
				continue
			}
			if _, ok := open[key]; !ok {
				open[key] = e
			}
		default:
			s, ok := open[key]
			if !ok {
				continue // an end whose start is outside the range
			}
			delete(open, key)
			pairs = append(pairs, Pair{Key: key, Start: s, End: e, Error: e.EventType[len(q.EventType):] == ".error"})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("timings: %w", err)
	}
	return pairs, len(open), nil
}

// Timings summarises the durations of q's operations per group, sorted
// by group.
func (db *DB) Timings(ctx context.Context, q TimingQuery) ([]Timing, error) {
	switch q.GroupBy {
	case "", "host", "project_id":
	default:
		return nil, fmt.Errorf("%w: group_by %q: want host or project_id", ErrInvalid, q.GroupBy)
	}
	pairs, unfinished, err := db.Pairs(ctx, q)
	if err != nil {
		return nil, err
	}
	groups := map[string]*Timing{}
	group := func(name string) *Timing {
		g, ok := groups[name]
		if !ok {
			g = &Timing{Group: name}
			groups[name] = g
		}
		return g
	}
	for _, p := range pairs {
		name := ""
		switch q.GroupBy {
		case "host":
			name = p.End.Host
		case "project_id":
			name = p.End.ProjectID
		}
		g := group(name)
		g.Count++
		if p.Error {
			g.Errors++
		}
		g.durations = append(g.durations, p.End.Timestamp.Sub(p.Start.Timestamp))
	}
	if unfinished > 0 && q.GroupBy == "" {
		group("").Unfinished = unfinished
	}
	out := make([]Timing, 0, len(groups))
	for _, g := range groups {
		summarise(g)
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Timing) int {
		switch {
		case a.Group < b.Group:
			return -1
		case a.Group > b.Group:
			return 1
		}
		return 0
	})
	return out, nil
}

// summarise fills g's statistics from its durations (nearest-rank
// percentiles).
func summarise(g *Timing) {
	d := g.durations
	g.durations = nil
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	g.Min, g.Max, g.Avg = d[0], d[len(d)-1], sum/time.Duration(len(d))
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p/100*float64(len(d)))) - 1
		return d[max(0, min(i, len(d)-1))]
	}
	g.P50, g.P90, g.P95, g.P99 = rank(50), rank(90), rank(95), rank(99)
}
