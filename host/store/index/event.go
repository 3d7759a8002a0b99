package index

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

// InsertEvents stores events in one transaction, many rows per statement,
// each with its traits packed into its row (traits.go), and returns how many
// were new: an event whose message_id is already stored is skipped (also
// within evs, where the first one is kept). project, when not nil, names
// the project an event belongs to (the facade reads its tenant_id or
// project_id trait); it scopes the reads. Raw payloads are kept when set.
func (db *DB) InsertEvents(ctx context.Context, evs []sample.Event, project func(sample.Event) string) (int, error) {
	for i := range evs {
		if err := checkEvent(&evs[i]); err != nil {
			return 0, fmt.Errorf("insert events: event %d: %w", i, err)
		}
	}
	if len(evs) == 0 {
		return 0, nil
	}
	// The packed traits of every event, in one buffer: event i's end at
	// ends[i].
	var packed []byte
	var pk packer
	ends := make([]int, len(evs))
	for i := range evs {
		packed = pk.appendPacked(packed, evs[i].Traits)
		ends[i] = len(packed)
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	newTypes := make(map[string]int64)
	var inserted int64
	err := db.writeTxHist(ctx, noHistory, func(tx *sql.Tx) error {
		ts := &txStmts{ctx: ctx, tx: tx, ws: &db.ws}
		rows := make([]any, 0, len(evs)*eventCols)
		start := 0
		for i := range evs {
			ev := &evs[i]
			typeID, err := db.eventTypeID(ts, ev.EventType, newTypes)
			if err != nil {
				return fmt.Errorf("event type %q: %w", ev.EventType, err)
			}
			proj := ""
			if project != nil {
				proj = project(*ev)
			}
			var raw any
			if ev.Raw != nil {
				raw = ev.Raw
			}
			rows = append(rows, ev.MessageID, typeID, ev.Generated.UnixNano(), proj, packed[start:ends[i]:ends[i]], raw)
			start = ends[i]
		}
		n, err := db.events.exec(ts, rows)
		inserted = n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("insert events: %w", err)
	}
	for name, id := range newTypes {
		db.types[name] = id
	}
	return int(inserted), nil
}

func checkEvent(ev *sample.Event) error {
	if ev.MessageID == "" {
		return fmt.Errorf("%w: empty message id", ErrInvalid)
	}
	if ev.EventType == "" {
		return fmt.Errorf("event %q: %w: empty event type", ev.MessageID, ErrInvalid)
	}
	if err := checkTime(ev.Generated); err != nil {
		return fmt.Errorf("event %q: generated: %w", ev.MessageID, err)
	}
	for _, tr := range ev.Traits {
		if tr.Name == "" {
			return fmt.Errorf("event %q: %w: trait without a name", ev.MessageID, ErrInvalid)
		}
		switch tr.Type {
		case sample.TraitText, sample.TraitInt, sample.TraitFloat:
		case sample.TraitDatetime:
			if err := checkTime(tr.Datetime); err != nil {
				return fmt.Errorf("event %q: trait %q: %w", ev.MessageID, tr.Name, err)
			}
		default:
			return fmt.Errorf("event %q: trait %q: %w: unknown trait type %d", ev.MessageID, tr.Name, ErrInvalid, tr.Type)
		}
	}
	return nil
}

// eventTypeID returns the id of the event type name, creating it; ids
// created in this transaction go to fresh and reach the cache after commit.
func (db *DB) eventTypeID(ts *txStmts, name string, fresh map[string]int64) (int64, error) {
	if id, ok := db.types[name]; ok {
		return id, nil
	}
	if id, ok := fresh[name]; ok {
		return id, nil
	}
	var id int64
	err := ts.queryRow(stTypeGet, name).Scan(&id)
	switch {
	case err == nil:
	case errors.Is(err, sql.ErrNoRows):
		res, err := ts.exec(stTypeInsert, name)
		if err != nil {
			return 0, err
		}
		if id, err = res.LastInsertId(); err != nil {
			return 0, err
		}
	default:
		return 0, err
	}
	fresh[name] = id
	return id, nil
}

// EventFilter selects events. Zero fields do not filter.
type EventFilter struct {
	// EventType is an exact type or a glob pattern (*, ?, [...]).
	EventType string
	// Start is inclusive, End exclusive (on the generated time).
	Start, End time.Time
	MessageID  string
	Project    string
	// Unowned, with Project, also selects the events of no project (Panko's
	// view for an admin of its own project).
	Unowned bool
	// Traits must all hold.
	Traits []TraitFilter
	// Marker is the message_id of the last event of the previous page: the
	// listing resumes after it. An unknown marker is ErrInvalid.
	Marker string
	// Limit caps the events returned; 0 means no limit.
	Limit int
	// Sort orders the listing, as Panko's sort parameter: keys
	// EventSortGenerated and EventSortMessageID, each at most once. Empty
	// is generated then message_id, both ascending; message_id ascending is
	// appended when absent, so the order is total and a marker resumes it.
	Sort []EventSort
}

// The keys an event listing sorts by.
const (
	EventSortGenerated = "generated"
	EventSortMessageID = "message_id"
)

// EventSort is one sort key of an event listing.
type EventSort struct {
	Key  string
	Desc bool
}

// eventSortColumns are the columns of the sort keys (a fixed set, so
// the SQL is built from them only).
var eventSortColumns = map[string]string{EventSortGenerated: "e.generated_ns", EventSortMessageID: "e.message_id"}

// eventOrder checks keys and completes them: the default when empty,
// message_id ascending appended when absent.
func eventOrder(keys []EventSort) ([]EventSort, error) {
	if len(keys) == 0 {
		return []EventSort{{Key: EventSortGenerated}, {Key: EventSortMessageID}}, nil
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if _, ok := eventSortColumns[k.Key]; !ok {
			return nil, fmt.Errorf("%w: unknown sort key %q (want generated or message_id)", ErrInvalid, k.Key)
		}
		if seen[k.Key] {
			return nil, fmt.Errorf("%w: sort key %q given twice", ErrInvalid, k.Key)
		}
		seen[k.Key] = true
	}
	if !seen[EventSortMessageID] {
		keys = append(slices.Clip(keys), EventSort{Key: EventSortMessageID})
	}
	return keys, nil
}

// afterMarker is the SQL condition selecting the rows after the marker row
// (of generated gen and message_id id) in the order keys (complete, ending
// at the unique message_id), with its arguments: for keys k1..kn,
// k1 beyond OR (k1 = AND k2 beyond) OR ...
func afterMarker(keys []EventSort, gen int64, id string) (string, []any) {
	val := map[string]any{EventSortGenerated: gen, EventSortMessageID: id}
	var or []string
	var args []any
	for i, k := range keys {
		var and []string
		for _, prev := range keys[:i] {
			and = append(and, eventSortColumns[prev.Key]+" = ?")
			args = append(args, val[prev.Key])
		}
		op := " > ?"
		if k.Desc {
			op = " < ?"
		}
		and = append(and, eventSortColumns[k.Key]+op)
		args = append(args, val[k.Key])
		or = append(or, "("+strings.Join(and, " AND ")+")")
		if k.Key == EventSortMessageID {
			break // unique: later keys never decide
		}
	}
	return " AND (" + strings.Join(or, " OR ") + ")", args
}

// TraitFilter is one trait condition: the event has a trait Name of type
// Type whose value compares to Value by Op.
type TraitFilter struct {
	Name string
	// Op is eq, ne, lt, le, gt or ge; empty means eq.
	Op string
	// Type is the trait type; zero means text.
	Type sample.TraitType
	// Value is parsed by Type: text as is, integer (base 10), float,
	// datetime (RFC 3339, or without a zone as UTC).
	Value string
}

var traitOps = map[string]string{"": "=", "eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}

// parseTraitCond checks tf and parses its value by its type.
func parseTraitCond(tf TraitFilter) (traitCond, error) {
	if tf.Name == "" {
		return traitCond{}, fmt.Errorf("%w: trait filter without a name", ErrInvalid)
	}
	op, ok := traitOps[tf.Op]
	if !ok {
		return traitCond{}, fmt.Errorf("trait %q: %w: unknown operator %q (want eq, ne, lt, le, gt or ge)", tf.Name, ErrInvalid, tf.Op)
	}
	c := traitCond{name: tf.Name, typ: tf.Type, op: op}
	switch tf.Type {
	case 0, sample.TraitText:
		c.typ, c.text = sample.TraitText, tf.Value
	case sample.TraitInt:
		v, err := strconv.ParseInt(strings.TrimSpace(tf.Value), 10, 64)
		if err != nil {
			return traitCond{}, fmt.Errorf("trait %q: %w: %q is not an integer", tf.Name, ErrInvalid, tf.Value)
		}
		c.num = v
	case sample.TraitFloat:
		v, err := strconv.ParseFloat(strings.TrimSpace(tf.Value), 64)
		if err != nil {
			return traitCond{}, fmt.Errorf("trait %q: %w: %q is not a float", tf.Name, ErrInvalid, tf.Value)
		}
		c.flt = v
	case sample.TraitDatetime:
		t, err := parseDatetime(tf.Value)
		if err != nil {
			return traitCond{}, fmt.Errorf("trait %q: %w: %q is not a datetime (RFC 3339)", tf.Name, ErrInvalid, tf.Value)
		}
		if err := checkTime(t); err != nil {
			return traitCond{}, fmt.Errorf("trait %q: %w", tf.Name, err)
		}
		c.num = t.UnixNano()
	default:
		return traitCond{}, fmt.Errorf("trait %q: %w: unknown trait type %d", tf.Name, ErrInvalid, tf.Type)
	}
	return c, nil
}

// parseDatetime parses RFC 3339 with or without a zone (no zone is UTC), as
// Ceilometer and Panko write datetimes.
func parseDatetime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
}

// Events lists the events f selects, in the order of f.Sort (by default
// generated time, then message_id), each with its traits ordered by name.
// Trait conditions are checked on the packed traits of the rows the other
// conditions select, read in order until the limit is reached.
func (db *DB) Events(ctx context.Context, f EventFilter) ([]sample.Event, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list events: %w: negative limit %d", ErrInvalid, f.Limit)
	}
	order, err := eventOrder(f.Sort)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	match, err := newTraitMatcher(f.Traits)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT e.message_id, t.name, e.generated_ns, e.traits, e.raw
FROM event e JOIN event_type t ON t.id = e.event_type_id WHERE 1`)
	if f.EventType != "" {
		if strings.ContainsAny(f.EventType, "*?[") {
			q.WriteString(" AND e.event_type_id IN (SELECT id FROM event_type WHERE name GLOB ?)")
		} else {
			q.WriteString(" AND e.event_type_id = (SELECT id FROM event_type WHERE name = ?)")
		}
		args = append(args, f.EventType)
	}
	if !f.Start.IsZero() {
		q.WriteString(" AND e.generated_ns >= ?")
		args = append(args, bound(f.Start, 0))
	}
	if !f.End.IsZero() {
		q.WriteString(" AND e.generated_ns < ?")
		args = append(args, bound(f.End, 0))
	}
	if f.MessageID != "" {
		q.WriteString(" AND e.message_id = ?")
		args = append(args, f.MessageID)
	}
	if f.Project != "" {
		if f.Unowned {
			q.WriteString(" AND e.project_id IN (?, '')")
		} else {
			q.WriteString(" AND e.project_id = ?")
		}
		args = append(args, f.Project)
	}
	for i := range match {
		q.WriteString(" AND instr(e.traits, ?)")
		args = append(args, match[i].needle())
	}
	var out []sample.Event
	err = db.readTx(ctx, func(tx *sql.Tx) error {
		if f.Marker != "" {
			var gen int64
			rows, err := db.query(ctx, tx, `SELECT generated_ns FROM event WHERE message_id = ?`, f.Marker)
			if err != nil {
				return err
			}
			found := rows.Next()
			if found {
				err = rows.Scan(&gen)
			}
			_ = rows.Close()
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%w: unknown marker %q", ErrInvalid, f.Marker)
			}
			cond, condArgs := afterMarker(order, gen, f.Marker)
			q.WriteString(cond)
			args = append(args, condArgs...)
		}
		q.WriteString(" ORDER BY ")
		for i, k := range order {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(eventSortColumns[k.Key])
			if k.Desc {
				q.WriteString(" DESC")
			}
		}
		if f.Limit > 0 && len(match) == 0 {
			q.WriteString(" LIMIT ?")
			args = append(args, f.Limit)
		}
		rows, err := db.query(ctx, tx, q.String(), args...)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		// The columns are scanned without a copy; only the events that
		// meet the trait conditions are copied out.
		var id, typ, traits, raw sql.RawBytes
		var gen int64
		for rows.Next() && (f.Limit == 0 || len(out) < f.Limit) {
			if err := rows.Scan(&id, &typ, &gen, &traits, &raw); err != nil {
				return err
			}
			ok, err := match.match(traits)
			if err != nil {
				return fmt.Errorf("event %q: %w", id, err)
			}
			if !ok {
				continue
			}
			ev := sample.Event{MessageID: string(id), EventType: string(typ), Generated: fromNanos(gen)}
			if ev.Traits, err = unpackTraits(traits); err != nil {
				return fmt.Errorf("event %q: %w", id, err)
			}
			if raw != nil {
				ev.Raw = bytes.Clone(raw)
			}
			out = append(out, ev)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

// EventTypes returns the event types stored (of project's events when
// project is set), sorted: at most limit of them (all when limit is not
// positive), after marker when it is not empty.
func (db *DB) EventTypes(ctx context.Context, project string, limit int, marker string) ([]string, error) {
	var out []string
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		var q string
		var args []any
		if project == "" {
			q = `SELECT t.name FROM event_type t
WHERE EXISTS (SELECT 1 FROM event e WHERE e.event_type_id = t.id)`
		} else {
			q = `SELECT DISTINCT t.name FROM event e JOIN event_type t ON t.id = e.event_type_id
WHERE e.project_id = ?`
			args = append(args, project)
		}
		if marker != "" {
			q += " AND t.name > ?"
			args = append(args, marker)
		}
		q, args = limited(q+" ORDER BY t.name", args, limit)
		rows, err := db.query(ctx, tx, q, args...)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				return err
			}
			out = append(out, name)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list event types: %w", err)
	}
	return out, nil
}

// limited adds a LIMIT to query q when limit is positive.
func limited(q string, args []any, limit int) (string, []any) {
	if limit <= 0 {
		return q, args
	}
	return q + " LIMIT ?", append(args, limit)
}

// TraitDesc names one trait, with its type, that events of a type carry.
type TraitDesc struct {
	Name string
	Type sample.TraitType
}

// TraitDescriptions returns the distinct trait names and types of the events
// of eventType (of every type when empty; of project's events when project
// is set), sorted by name and type: the types of at most limit names (all
// when limit is not positive; a name's types are never split), of the names
// after marker when it is not empty.
func (db *DB) TraitDescriptions(ctx context.Context, eventType, project string, limit int, marker string) ([]TraitDesc, error) {
	q, args := eventTraitsQuery(eventType, project, false)
	seen := make(map[TraitDesc]bool)
	// Events of one type mostly carry the same names: the names and types
	// of a packed form already seen are skipped whole.
	shapes := make(map[string]bool)
	var shape []byte
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := db.query(ctx, tx, q, args...)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			var traits sql.RawBytes
			if err := rows.Scan(&traits); err != nil {
				return err
			}
			shape = shape[:0]
			r := newPackedReader(traits)
			var p packedTrait
			for r.next(&p) {
				shape = binary.AppendUvarint(shape, uint64(len(p.name)))
				shape = append(append(shape, p.name...), byte(p.typ))
			}
			if r.err != nil {
				return r.err
			}
			if shapes[string(shape)] {
				continue
			}
			if len(shapes) < maxTraitShapes {
				shapes[string(shape)] = true
			}
			r = newPackedReader(traits)
			for r.next(&p) {
				if marker == "" || string(p.name) > marker {
					d := TraitDesc{Name: string(p.name), Type: p.typ}
					if !seen[d] {
						if len(seen) >= maxTraitDescs {
							return fmt.Errorf("more than %d distinct traits", maxTraitDescs)
						}
						seen[d] = true
					}
				}
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list trait descriptions of %q: %w", eventType, err)
	}
	out := slices.SortedFunc(maps.Keys(seen), func(a, b TraitDesc) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.Type, b.Type)
	})
	names := 0
	for i, d := range out {
		if i == 0 || out[i-1].Name != d.Name {
			if names++; limit > 0 && names > limit {
				return out[:i], nil
			}
		}
	}
	return out, nil
}

// Bounds of TraitDescriptions' working sets: the distinct trait shapes it
// remembers (more are only decoded again), and the distinct names and
// types it answers.
const (
	maxTraitShapes = 1024
	maxTraitDescs  = 100_000
)

// eventTraitsQuery selects the packed traits of the events of eventType
// (of every type when empty) and project (of every project when empty),
// in event order (generated, then message_id) when ordered.
func eventTraitsQuery(eventType, project string, ordered bool) (string, []any) {
	q := `SELECT e.traits FROM event e WHERE e.traits IS NOT NULL`
	var args []any
	if eventType != "" {
		q += " AND e.event_type_id = (SELECT id FROM event_type WHERE name = ?)"
		args = append(args, eventType)
	}
	if project != "" {
		q += " AND e.project_id = ?"
		args = append(args, project)
	}
	if ordered {
		q += " ORDER BY e.generated_ns, e.message_id"
	}
	return q, args
}

// Traits returns the values of trait on the events of eventType (of every
// type when empty; of project's events when project is set), in event order
// (generated, then message_id): the first limit of them (all when limit is
// not positive).
func (db *DB) Traits(ctx context.Context, eventType, trait, project string, limit int) ([]sample.Trait, error) {
	if trait == "" {
		return nil, fmt.Errorf("list traits: %w: empty trait name", ErrInvalid)
	}
	q, args := eventTraitsQuery(eventType, project, true)
	var out []sample.Trait
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := db.query(ctx, tx, q, args...)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() && (limit <= 0 || len(out) < limit) {
			var traits sql.RawBytes
			if err := rows.Scan(&traits); err != nil {
				return err
			}
			r := newPackedReader(traits)
			var p packedTrait
			for r.next(&p) {
				if string(p.name) == trait {
					out = append(out, p.trait())
					break
				}
			}
			if r.err != nil {
				return r.err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list traits %q of %q: %w", trait, eventType, err)
	}
	return out, nil
}

// ExpireEvents deletes the events generated before before (and the event types left without events), and returns how many
// events it deleted.
func (db *DB) ExpireEvents(ctx context.Context, before time.Time) (int64, error) {
	if before.IsZero() {
		return 0, nil
	}
	cut := bound(before, 0)
	db.wmu.Lock()
	defer db.wmu.Unlock()
	var n int64
	err := db.writeTxHist(ctx, noHistory, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM event WHERE generated_ns < ?`, cut)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM event_type
WHERE NOT EXISTS (SELECT 1 FROM event e WHERE e.event_type_id = event_type.id)`)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expire events before %s: %w", before.Format(time.RFC3339), err)
	}
	clear(db.types) // some types may be gone; the cache refills on demand
	if n > 0 {
		db.log.Debug("events expired", "count", n, "before", before)
	}
	return n, nil
}
