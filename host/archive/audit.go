package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/altimeter/altimeter/internal/notification"
)

// The notifications the usage audit reads (nova's, as StackTach's audit).
const (
	existsType = "compute.instance.exists"
	createType = "compute.instance.create.end"
	deleteType = "compute.instance.delete.end"
)

// maxAuditRows bounds the notifications one audit reads (raw bodies of
// exists notifications among them, a few KB each in memory).
const maxAuditRows = 50000

// auditSlack is how long after the window an exists notification of a
// period inside it may arrive.
const auditSlack = 24 * time.Hour

// Interval is a half-open time range [Start, End).
type Interval struct{ Start, End time.Time }

// UsageProblem is one instance whose exists periods do not cover its life
// inside the audit window exactly once.
type UsageProblem struct {
	ResourceID string
	ProjectID  string
	// Launched and Deleted are when the instance was created and deleted,
	// as the create and delete notifications (or the exists payloads) say;
	// zero when unknown.
	Launched, Deleted time.Time
	// Exists counts its exists notifications read.
	Exists int
	// Missing are the parts of its life in the window no exists period
	// covers; Overlapping the parts more than one covers.
	Missing, Overlapping []Interval
}

// AuditUsage compares, for every instance with a create, delete or exists
// notification in [start, end) (exists up to a day later), the audit
// periods of its compute.instance.exists notifications with its life
// (from its create to its delete, clipped to the window), and returns the
// instances with missing or overlapping periods, by resource id. scope
// confines to one project ("" for an admin).
func (db *DB) AuditUsage(ctx context.Context, start, end time.Time, scope string) ([]UsageProblem, error) {
	if !start.Before(end) {
		return nil, fmt.Errorf("%w: audit window: start must be before end", ErrInvalid)
	}
	es, err := db.auditRows(ctx, start, end, scope)
	if err != nil {
		return nil, err
	}
	type life struct {
		p       UsageProblem
		periods []Interval
	}
	byID := map[string]*life{}
	for i := range es {
		e := &es[i]
		if e.ResourceID == "" {
			continue
		}
		l, ok := byID[e.ResourceID]
		if !ok {
			l = &life{p: UsageProblem{ResourceID: e.ResourceID, ProjectID: e.ProjectID}}
			byID[e.ResourceID] = l
		}
		var body struct {
			Payload map[string]any `json:"payload"`
		}
		_ = json.Unmarshal(e.Raw, &body)
		at := func(k string) time.Time {
			s, _ := body.Payload[k].(string)
			if strings.TrimSpace(s) == "" {
				return time.Time{}
			}
			t, err := notification.ParseTime(s)
			if err != nil {
				return time.Time{}
			}
			return t
		}
		switch e.EventType {
		case createType:
			l.p.Launched = e.Timestamp
		case deleteType:
			l.p.Deleted = e.Timestamp
		case existsType:
			l.p.Exists++
			if l.p.Launched.IsZero() {
				l.p.Launched = at("launched_at")
			}
			if l.p.Deleted.IsZero() {
				l.p.Deleted = at("deleted_at")
			}
			b, en := at("audit_period_beginning"), at("audit_period_ending")
			if !b.IsZero() && b.Before(en) {
				l.periods = append(l.periods, Interval{b, en})
			}
		}
	}
	var out []UsageProblem
	for _, l := range byID {
		alive := Interval{start, end}
		if l.p.Launched.After(alive.Start) {
			alive.Start = l.p.Launched
		}
		if !l.p.Deleted.IsZero() && l.p.Deleted.Before(alive.End) {
			alive.End = l.p.Deleted
		}
		if !alive.Start.Before(alive.End) {
			continue
		}
		slices.SortFunc(l.periods, func(a, b Interval) int { return a.Start.Compare(b.Start) })
		l.periods = slices.Compact(l.periods) // a redelivered period is not an overlap
		cursor := alive.Start
		for _, p := range l.periods {
			if !p.End.After(alive.Start) || !p.Start.Before(alive.End) {
				continue
			}
			p.Start, p.End = maxTime(p.Start, alive.Start), minTime(p.End, alive.End)
			if p.Start.After(cursor) {
				l.p.Missing = append(l.p.Missing, Interval{cursor, p.Start})
			} else if p.Start.Before(cursor) {
				l.p.Overlapping = addInterval(l.p.Overlapping, Interval{p.Start, minTime(p.End, cursor)})
			}
			cursor = maxTime(cursor, p.End)
		}
		if cursor.Before(alive.End) {
			l.p.Missing = append(l.p.Missing, Interval{cursor, alive.End})
		}
		if len(l.p.Missing)+len(l.p.Overlapping) > 0 {
			out = append(out, l.p)
		}
	}
	slices.SortFunc(out, func(a, b UsageProblem) int { return strings.Compare(a.ResourceID, b.ResourceID) })
	return out, nil
}

// auditRows reads the create, delete and exists notifications of the
// audit, raw, bounded by maxAuditRows.
func (db *DB) auditRows(ctx context.Context, start, end time.Time, scope string) ([]Entry, error) {
	var out []Entry
	for _, typ := range []string{createType, deleteType, existsType} {
		to := end
		if typ == existsType {
			to = end.Add(auditSlack)
		}
		es, err := db.List(ctx, Filter{Scope: scope, EventType: typ, Start: start, End: to, Raw: typ == existsType, Limit: MaxLimit})
		if err != nil {
			return nil, err
		}
		// List pages by MaxLimit; read on with the marker, bounded.
		for len(es) > 0 {
			out = append(out, es...)
			if len(out) > maxAuditRows {
				return nil, fmt.Errorf("%w: more than %d notifications to audit: narrow the window", ErrInvalid, maxAuditRows)
			}
			if len(es) < MaxLimit {
				break
			}
			if es, err = db.List(ctx, Filter{Scope: scope, EventType: typ, Start: start, End: to, Raw: typ == existsType,
				Limit: MaxLimit, Marker: es[len(es)-1].MessageID}); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// addInterval appends iv to list, merged with the last interval when they
// touch or overlap.
func addInterval(list []Interval, iv Interval) []Interval {
	if n := len(list); n > 0 && !iv.Start.After(list[n-1].End) {
		list[n-1].End = maxTime(list[n-1].End, iv.End)
		return list
	}
	return append(list, iv)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
