package alarm

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// SectionName is the alarms section of the cluster FSM.
const SectionName = "alarms"

// Command types (the alarms range, 32-63, of fsm/apply.go). Never reuse a
// number.
const (
	TypeCreate       fsm.Type = 32
	TypeUpdate       fsm.Type = 33
	TypeDelete       fsm.Type = 34
	TypeTransition   fsm.Type = 35
	TypeDeliveryDone fsm.Type = 36
)

// Bounds of the replicated alarm state.
const (
	// MaxAlarms bounds the number of alarms.
	MaxAlarms = 100_000
	// MaxPendingPerAlarm bounds undelivered transitions per alarm; past it
	// the oldest is dropped and the drop recorded in the history.
	MaxPendingPerAlarm = 16
	// maxHistoryPerAlarm caps what a command may ask for.
	maxHistoryPerAlarm = 10_000
)

// Records is the alarms section: every alarm, its history (kept after a
// deletion until it ages out) and the pending deliveries.
type Records struct {
	alarms  map[string]*Alarm
	names   map[nameKey]string // (project, name) -> id
	history map[string][]Change
	pending map[string]*Delivery // by transition id
	byAlarm map[string][]string  // alarm id -> pending transition ids, oldest first
	// deleted are the ids of deleted alarms that still have history, in
	// deletion order (derived from the history on restore).
	deleted []string
}

type nameKey struct{ project, name string }

func newRecords() *Records {
	return &Records{alarms: map[string]*Alarm{}, names: map[nameKey]string{}, history: map[string][]Change{}, pending: map[string]*Delivery{}, byAlarm: map[string][]string{}}
}

// Of returns the alarms section of st.
func Of(st *fsm.State) *Records { return st.Section(SectionName).(*Records) }

// Get returns a copy of the alarm with id.
func (r *Records) Get(id string) (Alarm, bool) {
	a, ok := r.alarms[id]
	if !ok {
		return Alarm{}, false
	}
	return a.Clone(), true
}

// Len is the number of alarms.
func (r *Records) Len() int { return len(r.alarms) }

// Each calls fn for every alarm in id order with a pointer into the state:
// fn must not keep or modify it (Read's rules).
func (r *Records) Each(fn func(a *Alarm) bool) {
	for _, id := range sortedKeys(r.alarms) {
		if !fn(r.alarms[id]) {
			return
		}
	}
}

// History returns a copy of the alarm's history, oldest first.
func (r *Records) History(id string) []Change {
	return slices.Clone(r.history[id])
}

// EachHistory calls fn for every history entry of every alarm, by alarm id
// then age.
func (r *Records) EachHistory(fn func(c *Change) bool) {
	for _, id := range sortedKeys(r.history) {
		h := r.history[id]
		for i := range h {
			if !fn(&h[i]) {
				return
			}
		}
	}
}

// Pending returns copies of the undelivered transitions, oldest first.
func (r *Records) Pending() []Delivery {
	out := make([]Delivery, 0, len(r.pending))
	for _, d := range r.pending {
		c := *d
		c.Actions = slices.Clone(d.Actions)
		out = append(out, c)
	}
	sortDeliveries(out)
	return out
}

func sortDeliveries(ds []Delivery) {
	sort.Slice(ds, func(i, j int) bool {
		if !ds[i].Committed.Equal(ds[j].Committed) {
			return ds[i].Committed.Before(ds[j].Committed)
		}
		return ds[i].TransitionID < ds[j].TransitionID
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// record appends a history entry and prunes the alarm's history by count
// and age (now is the entry's time: the leader's clock).
func (r *Records) record(c Change, lim HistoryLimits) {
	h := append(r.history[c.AlarmID], c)
	r.history[c.AlarmID] = pruneHistory(h, lim, c.Timestamp)
}

func pruneHistory(h []Change, lim HistoryLimits, now time.Time) []Change {
	if lim.MaxAge > 0 {
		cut := now.Add(-lim.MaxAge)
		i := 0
		for i < len(h) && h[i].Timestamp.Before(cut) {
			i++
		}
		h = h[i:]
	}
	if lim.PerAlarm > 0 && len(h) > lim.PerAlarm {
		h = h[len(h)-lim.PerAlarm:]
	}
	return slices.Clip(h)
}

// pruneDeleted drops the histories of deleted alarms whose deletion aged
// out, oldest deletion first, and the oldest past 2*MaxAlarms of them, so
// history cannot grow by creating and deleting. It looks only at the head
// of the deletion queue: constant work per command in steady state.
func (r *Records) pruneDeleted(lim HistoryLimits, now time.Time) {
	for len(r.deleted) > 0 {
		id := r.deleted[0]
		if _, live := r.alarms[id]; !live {
			h := r.history[id]
			aged := lim.MaxAge > 0 && len(h) > 0 && h[len(h)-1].Timestamp.Before(now.Add(-lim.MaxAge))
			if len(h) > 0 && !aged && len(r.deleted) <= 2*MaxAlarms {
				return
			}
			delete(r.history, id)
		}
		r.deleted = r.deleted[1:]
	}
}

func checkLimits(lim HistoryLimits) error {
	if lim.PerAlarm < 0 || lim.PerAlarm > maxHistoryPerAlarm || lim.MaxAge < 0 {
		return fmt.Errorf("%w: history limits %d entries, %s", fsm.ErrInvalid, lim.PerAlarm, lim.MaxAge)
	}
	return nil
}

// snapshotDoc is the section's snapshot form (version 1): sorted lists.
type snapshotDoc struct {
	Alarms  []*Alarm   `json:"alarms"`
	History []Change   `json:"history"`
	Pending []Delivery `json:"pending"`
}

// MarshalJSON writes the section deterministically.
func (r *Records) MarshalJSON() ([]byte, error) {
	doc := snapshotDoc{Alarms: []*Alarm{}, History: []Change{}, Pending: r.Pending()}
	for _, id := range sortedKeys(r.alarms) {
		doc.Alarms = append(doc.Alarms, r.alarms[id])
	}
	for _, id := range sortedKeys(r.history) {
		doc.History = append(doc.History, r.history[id]...)
	}
	return json.Marshal(doc)
}

func restoreRecords(_ int, data json.RawMessage) (fsm.Section, error) {
	var doc snapshotDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode alarms: %w", err)
	}
	r := newRecords()
	for _, a := range doc.Alarms {
		if a == nil || a.ID == "" {
			return nil, fmt.Errorf("%w: alarm without an id", fsm.ErrInvalid)
		}
		if _, dup := r.alarms[a.ID]; dup {
			return nil, fmt.Errorf("%w: alarm %s twice", fsm.ErrInvalid, a.ID)
		}
		r.alarms[a.ID] = a
		r.names[nameKey{a.ProjectID, a.Name}] = a.ID
	}
	for _, c := range doc.History {
		r.history[c.AlarmID] = append(r.history[c.AlarmID], c)
	}
	for id := range r.history {
		if _, live := r.alarms[id]; !live {
			r.deleted = append(r.deleted, id)
		}
	}
	sort.Slice(r.deleted, func(i, j int) bool {
		a, b := r.history[r.deleted[i]], r.history[r.deleted[j]]
		if ta, tb := a[len(a)-1].Timestamp, b[len(b)-1].Timestamp; !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return r.deleted[i] < r.deleted[j]
	})
	for i := range doc.Pending {
		d := doc.Pending[i]
		r.pending[d.TransitionID] = &d
		r.byAlarm[d.AlarmID] = append(r.byAlarm[d.AlarmID], d.TransitionID)
	}
	return r, nil
}

func init() {
	fsm.RegisterSection(fsm.SectionSpec{
		Name:    SectionName,
		Version: 1,
		New:     func() fsm.Section { return newRecords() },
		Restore: restoreRecords,
	})
}

// changeDetail is a JSON string for a history entry's detail.
func changeDetail(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func checkID(what, id string) error {
	if id == "" || len(id) > MaxIDLen || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("%w: bad %s %q", fsm.ErrInvalid, what, truncate(id))
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
