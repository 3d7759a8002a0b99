package index

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func text(name, v string) sample.Trait {
	return sample.Trait{Name: name, Type: sample.TraitText, Text: v}
}
func integer(name string, v int64) sample.Trait {
	return sample.Trait{Name: name, Type: sample.TraitInt, Int: v}
}
func float(name string, v float64) sample.Trait {
	return sample.Trait{Name: name, Type: sample.TraitFloat, Float: v}
}
func datetime(name string, v time.Time) sample.Trait {
	return sample.Trait{Name: name, Type: sample.TraitDatetime, Datetime: v}
}

// tenant is the project callback the facade passes: the tenant_id or
// project_id trait.
func tenant(ev sample.Event) string {
	for _, tr := range ev.Traits {
		if tr.Name == "tenant_id" || tr.Name == "project_id" {
			return tr.Text
		}
	}
	return ""
}

// events are three compute events and one image event, one per value of
// each trait type, generated 10 s apart.
func events() []sample.Event {
	var out []sample.Event
	for i := 1; i <= 3; i++ {
		out = append(out, sample.Event{
			MessageID: fmt.Sprintf("m%d", i),
			EventType: "compute.instance.create.end",
			Generated: at(10 * i),
			Traits: []sample.Trait{
				text("tenant_id", fmt.Sprint("p", i%2)),
				text("name", fmt.Sprint("vm", i)),
				integer("n", int64(i)),
				float("f", float64(i)+0.5),
				datetime("d", at(100*i)),
			},
		})
	}
	out = append(out, sample.Event{
		MessageID: "m4", EventType: "image.upload", Generated: at(40),
		Traits: []sample.Trait{text("project_id", "p1"), text("name", "img")},
		Raw:    []byte(`{"event_type":"image.upload"}`),
	})
	return out
}

func TestInsertEventsDedup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, path := openTest(t)
	n, err := db.InsertEvents(ctx, events(), tenant)
	require.NoError(t, err)
	require.Equal(t, 4, n)

	again := append(events()[:2], sample.Event{MessageID: "m5", EventType: "image.delete", Generated: at(50)})
	again = append(again, again[2]) // a duplicate inside the batch too
	n, err = db.InsertEvents(ctx, again, tenant)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	check := func(db *DB) {
		t.Helper()
		evs, err := db.Events(ctx, EventFilter{})
		require.NoError(t, err)
		want := append(events(), sample.Event{MessageID: "m5", EventType: "image.delete", Generated: at(50)})
		for i := range want { // stored traits come back sorted by name
			slices.SortFunc(want[i].Traits, func(a, b sample.Trait) int { return strings.Compare(a.Name, b.Name) })
		}
		require.Empty(t, cmp.Diff(want, evs))
	}
	check(db)
	require.NoError(t, db.Close())
	db = openAt(t, path)
	check(db)
}

// TestInsertEventsManyTraits stores a batch whose traits take several
// multi-row inserts of every size (37 events of 13 traits and one of 4:
// 485 rows, 3×128 + 64 + 32 + 4 + 1), the last naming one trait twice,
// which keeps the later value as before.
func TestInsertEventsManyTraits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	var evs []sample.Event
	for i := range 37 {
		ev := sample.Event{MessageID: fmt.Sprintf("m%02d", i), EventType: "compute.instance.exists", Generated: at(i),
			Traits: []sample.Trait{integer("n", int64(i))}} // in name order, as they come back
		for k := range 12 {
			ev.Traits = append(ev.Traits, text(fmt.Sprintf("t%02d", k), fmt.Sprintf("v%d.%d", i, k)))
		}
		evs = append(evs, ev)
	}
	evs = append(evs, sample.Event{MessageID: "twice", EventType: "x", Generated: at(40),
		Traits: []sample.Trait{text("a", "first"), integer("b", 1), float("c", 0.5), text("a", "second")}})
	n, err := db.InsertEvents(ctx, evs, tenant)
	require.NoError(t, err)
	require.Equal(t, 38, n)
	got, err := db.Events(ctx, EventFilter{Limit: 100})
	require.NoError(t, err)
	want := evs[:37:37]
	want = append(want, sample.Event{MessageID: "twice", EventType: "x", Generated: at(40),
		Traits: []sample.Trait{text("a", "second"), integer("b", 1), float("c", 0.5)}})
	require.Empty(t, cmp.Diff(want, got))
}

func TestInsertEventsInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		ev   sample.Event
		msg  string
	}{
		{"no message id", sample.Event{EventType: "x", Generated: at(0)}, "empty message id"},
		{"no type", sample.Event{MessageID: "a", Generated: at(0)}, "empty event type"},
		{"no time", sample.Event{MessageID: "a", EventType: "x"}, "generated: invalid request: time"},
		{"trait without name", sample.Event{MessageID: "a", EventType: "x", Generated: at(0),
			Traits: []sample.Trait{{Type: sample.TraitText}}}, "trait without a name"},
		{"unknown trait type", sample.Event{MessageID: "a", EventType: "x", Generated: at(0),
			Traits: []sample.Trait{{Name: "t", Type: 9}}}, "unknown trait type 9"},
		{"zero datetime trait", sample.Event{MessageID: "a", EventType: "x", Generated: at(0),
			Traits: []sample.Trait{{Name: "t", Type: sample.TraitDatetime}}}, `trait "t": invalid request: time`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, _ := openTest(t)
			_, err := db.InsertEvents(ctx, append(events(), tc.ev), tenant)
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tc.msg)
			evs, err := db.Events(ctx, EventFilter{})
			require.NoError(t, err)
			require.Empty(t, evs, "a rejected batch writes nothing")
		})
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	_, err := db.InsertEvents(ctx, events(), tenant)
	require.NoError(t, err)
	tr := func(name, op string, typ sample.TraitType, v string) TraitFilter {
		return TraitFilter{Name: name, Op: op, Type: typ, Value: v}
	}
	ts := func(s int) string { return at(s).Format(time.RFC3339Nano) }
	cases := []struct {
		name string
		f    EventFilter
		want []string
	}{
		{"all", EventFilter{}, []string{"m1", "m2", "m3", "m4"}},
		{"type", EventFilter{EventType: "image.upload"}, []string{"m4"}},
		{"type glob", EventFilter{EventType: "compute.*"}, []string{"m1", "m2", "m3"}},
		{"type glob class", EventFilter{EventType: "[ci]*.*a*"}, []string{"m1", "m2", "m3", "m4"}},
		{"type is not a prefix", EventFilter{EventType: "compute"}, nil},
		{"start inclusive", EventFilter{Start: at(20)}, []string{"m2", "m3", "m4"}},
		{"end exclusive", EventFilter{End: at(30)}, []string{"m1", "m2"}},
		{"message id", EventFilter{MessageID: "m3"}, []string{"m3"}},
		{"project", EventFilter{Project: "p1"}, []string{"m1", "m3", "m4"}},
		{"project and type", EventFilter{Project: "p1", EventType: "compute.*"}, []string{"m1", "m3"}},
		{"limit", EventFilter{Limit: 2}, []string{"m1", "m2"}},
		{"marker", EventFilter{Marker: "m2"}, []string{"m3", "m4"}},
		{"marker and limit", EventFilter{Marker: "m1", Limit: 2}, []string{"m2", "m3"}},

		{"text eq (default op)", EventFilter{Traits: []TraitFilter{tr("name", "", 0, "vm2")}}, []string{"m2"}},
		{"text eq", EventFilter{Traits: []TraitFilter{tr("name", "eq", sample.TraitText, "vm2")}}, []string{"m2"}},
		{"text ne", EventFilter{Traits: []TraitFilter{tr("name", "ne", sample.TraitText, "vm2")}}, []string{"m1", "m3", "m4"}},
		{"text lt", EventFilter{Traits: []TraitFilter{tr("name", "lt", sample.TraitText, "vm2")}}, []string{"m1", "m4"}},
		{"text le", EventFilter{Traits: []TraitFilter{tr("name", "le", sample.TraitText, "vm2")}}, []string{"m1", "m2", "m4"}},
		{"text gt", EventFilter{Traits: []TraitFilter{tr("name", "gt", sample.TraitText, "vm2")}}, []string{"m3"}},
		{"text ge", EventFilter{Traits: []TraitFilter{tr("name", "ge", sample.TraitText, "vm2")}}, []string{"m2", "m3"}},
		{"text is not a pattern", EventFilter{Traits: []TraitFilter{tr("name", "eq", sample.TraitText, "vm%")}}, nil},

		{"int eq", EventFilter{Traits: []TraitFilter{tr("n", "eq", sample.TraitInt, "2")}}, []string{"m2"}},
		{"int ne", EventFilter{Traits: []TraitFilter{tr("n", "ne", sample.TraitInt, "2")}}, []string{"m1", "m3"}},
		{"int lt", EventFilter{Traits: []TraitFilter{tr("n", "lt", sample.TraitInt, "2")}}, []string{"m1"}},
		{"int le", EventFilter{Traits: []TraitFilter{tr("n", "le", sample.TraitInt, "2")}}, []string{"m1", "m2"}},
		{"int gt", EventFilter{Traits: []TraitFilter{tr("n", "gt", sample.TraitInt, "2")}}, []string{"m3"}},
		{"int ge", EventFilter{Traits: []TraitFilter{tr("n", "ge", sample.TraitInt, " 2 ")}}, []string{"m2", "m3"}},
		{"int compares numerically", EventFilter{Traits: []TraitFilter{tr("n", "lt", sample.TraitInt, "10")}}, []string{"m1", "m2", "m3"}},

		{"float eq", EventFilter{Traits: []TraitFilter{tr("f", "eq", sample.TraitFloat, "2.5")}}, []string{"m2"}},
		{"float ne", EventFilter{Traits: []TraitFilter{tr("f", "ne", sample.TraitFloat, "2.5")}}, []string{"m1", "m3"}},
		{"float lt", EventFilter{Traits: []TraitFilter{tr("f", "lt", sample.TraitFloat, "2.5")}}, []string{"m1"}},
		{"float le", EventFilter{Traits: []TraitFilter{tr("f", "le", sample.TraitFloat, "2.5")}}, []string{"m1", "m2"}},
		{"float gt", EventFilter{Traits: []TraitFilter{tr("f", "gt", sample.TraitFloat, "2.5")}}, []string{"m3"}},
		{"float ge", EventFilter{Traits: []TraitFilter{tr("f", "ge", sample.TraitFloat, "2")}}, []string{"m2", "m3"}},

		{"datetime eq", EventFilter{Traits: []TraitFilter{tr("d", "eq", sample.TraitDatetime, ts(200))}}, []string{"m2"}},
		{"datetime ne", EventFilter{Traits: []TraitFilter{tr("d", "ne", sample.TraitDatetime, ts(200))}}, []string{"m1", "m3"}},
		{"datetime lt", EventFilter{Traits: []TraitFilter{tr("d", "lt", sample.TraitDatetime, ts(200))}}, []string{"m1"}},
		{"datetime le", EventFilter{Traits: []TraitFilter{tr("d", "le", sample.TraitDatetime, ts(200))}}, []string{"m1", "m2"}},
		{"datetime gt", EventFilter{Traits: []TraitFilter{tr("d", "gt", sample.TraitDatetime, ts(200))}}, []string{"m3"}},
		{"datetime ge", EventFilter{Traits: []TraitFilter{tr("d", "ge", sample.TraitDatetime, ts(200))}}, []string{"m2", "m3"}},
		{"datetime without zone is UTC", EventFilter{Traits: []TraitFilter{tr("d", "eq", sample.TraitDatetime,
			at(300).Format("2006-01-02T15:04:05"))}}, []string{"m3"}},
		{"datetime with zone", EventFilter{Traits: []TraitFilter{tr("d", "eq", sample.TraitDatetime,
			at(100).In(time.FixedZone("x", 3600)).Format(time.RFC3339))}}, []string{"m1"}},

		{"type must match", EventFilter{Traits: []TraitFilter{tr("n", "eq", sample.TraitText, "2")}}, nil},
		{"unknown trait", EventFilter{Traits: []TraitFilter{tr("nope", "ne", sample.TraitText, "x")}}, nil},
		{"traits and", EventFilter{Traits: []TraitFilter{tr("n", "ge", sample.TraitInt, "2"), tr("f", "lt", sample.TraitFloat, "3")}}, []string{"m2"}},
		{"traits and project", EventFilter{Project: "p1", Traits: []TraitFilter{tr("n", "ge", sample.TraitInt, "2")}}, []string{"m3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evs, err := db.Events(ctx, tc.f)
			require.NoError(t, err)
			var got []string
			for _, ev := range evs {
				got = append(got, ev.MessageID)
			}
			require.Equal(t, tc.want, got)
		})
	}

	bad := []struct {
		name string
		f    EventFilter
		msg  string
	}{
		{"unknown op", EventFilter{Traits: []TraitFilter{tr("n", "like", sample.TraitInt, "1")}}, `unknown operator "like"`},
		{"bad int", EventFilter{Traits: []TraitFilter{tr("n", "eq", sample.TraitInt, "1.5")}}, `"1.5" is not an integer`},
		{"bad float", EventFilter{Traits: []TraitFilter{tr("f", "eq", sample.TraitFloat, "x")}}, `"x" is not a float`},
		{"bad datetime", EventFilter{Traits: []TraitFilter{tr("d", "eq", sample.TraitDatetime, "yesterday")}}, "is not a datetime"},
		{"unknown type", EventFilter{Traits: []TraitFilter{tr("d", "eq", 7, "x")}}, "unknown trait type 7"},
		{"no trait name", EventFilter{Traits: []TraitFilter{tr("", "eq", 0, "x")}}, "trait filter without a name"},
		{"unknown marker", EventFilter{Marker: "nope"}, `unknown marker "nope"`},
		{"negative limit", EventFilter{Limit: -3}, "negative limit -3"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := db.Events(ctx, tc.f)
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

// pageAll lists the message ids of f page by page, each page resuming
// after the last of the previous one.
func pageAll(t *testing.T, db *DB, f EventFilter) []string {
	t.Helper()
	var got []string
	for pages := 0; ; pages++ {
		require.Less(t, pages, 50, "pagination does not end")
		page, err := db.Events(context.Background(), f)
		require.NoError(t, err)
		if len(page) == 0 {
			return got
		}
		for _, ev := range page {
			got = append(got, ev.MessageID)
		}
		f.Marker = page[len(page)-1].MessageID
	}
}

func TestEventsPagination(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	var evs []sample.Event
	var want []string
	for i := range 45 {
		// Groups of five share a generated time, so markers must break ties
		// by message_id.
		id := fmt.Sprintf("e%02d", i)
		evs = append(evs, sample.Event{MessageID: id, EventType: "t", Generated: at(i / 5)})
		want = append(want, id)
	}
	_, err := db.InsertEvents(ctx, evs, nil)
	require.NoError(t, err)
	for _, limit := range []int{1, 4, 5, 45} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, want, pageAll(t, db, EventFilter{Limit: limit}))
		})
	}
}

func TestEventTypesAndTraits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	_, err := db.InsertEvents(ctx, events(), tenant)
	require.NoError(t, err)

	t.Run("event types", func(t *testing.T) {
		t.Parallel()
		got, err := db.EventTypes(ctx, "", 0, "")
		require.NoError(t, err)
		require.Equal(t, []string{"compute.instance.create.end", "image.upload"}, got)
		got, err = db.EventTypes(ctx, "p0", 0, "")
		require.NoError(t, err)
		require.Equal(t, []string{"compute.instance.create.end"}, got)
		got, err = db.EventTypes(ctx, "nobody", 0, "")
		require.NoError(t, err)
		require.Empty(t, got)
	})
	t.Run("trait descriptions", func(t *testing.T) {
		t.Parallel()
		got, err := db.TraitDescriptions(ctx, "compute.instance.create.end", "", 0, "")
		require.NoError(t, err)
		require.Equal(t, []TraitDesc{{"d", sample.TraitDatetime}, {"f", sample.TraitFloat}, {"n", sample.TraitInt},
			{"name", sample.TraitText}, {"tenant_id", sample.TraitText}}, got)
		got, err = db.TraitDescriptions(ctx, "image.upload", "p0", 0, "")
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = db.TraitDescriptions(ctx, "", "p1", 0, "")
		require.NoError(t, err)
		require.Len(t, got, 6, "every trait of p1's events, project_id included")
	})
	t.Run("traits", func(t *testing.T) {
		t.Parallel()
		got, err := db.Traits(ctx, "compute.instance.create.end", "d", "", 0)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]sample.Trait{datetime("d", at(100)), datetime("d", at(200)), datetime("d", at(300))}, got))
		got, err = db.Traits(ctx, "compute.instance.create.end", "f", "p1", 0)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]sample.Trait{float("f", 1.5), float("f", 3.5)}, got))
		got, err = db.Traits(ctx, "", "name", "p1", 0)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]sample.Trait{text("name", "vm1"), text("name", "vm3"), text("name", "img")}, got))
		_, err = db.Traits(ctx, "x", "", "", 0)
		require.ErrorIs(t, err, ErrInvalid)
	})
}

// TestEventTypesAndTraitsPaged: the listings of types, trait names and
// trait values return at most limit rows, after the marker; a trait name
// whose values have two types keeps both on one page.
func TestEventTypesAndTraitsPaged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	var evs []sample.Event
	for i := range 30 {
		ev := sample.Event{
			MessageID: fmt.Sprintf("m%02d", i), EventType: fmt.Sprintf("type.%02d", i%10), Generated: at(i),
			Traits: []sample.Trait{text("tenant_id", fmt.Sprint("p", i%2)), text(fmt.Sprintf("t%02d", i%5), "v")},
		}
		if i%5 == 0 {
			ev.Traits = append(ev.Traits, integer("t02", int64(i))) // t02 is text elsewhere
		}
		evs = append(evs, ev)
	}
	_, err := db.InsertEvents(ctx, evs, tenant)
	require.NoError(t, err)

	t.Run("event types", func(t *testing.T) {
		t.Parallel()
		for _, project := range []string{"", "p1"} {
			var all []string
			marker := ""
			for {
				page, err := db.EventTypes(ctx, project, 3, marker)
				require.NoError(t, err)
				require.LessOrEqual(t, len(page), 3)
				if len(page) == 0 {
					break
				}
				all = append(all, page...)
				marker = page[len(page)-1]
			}
			want, err := db.EventTypes(ctx, project, 0, "")
			require.NoError(t, err)
			require.Equal(t, want, all, "project %q", project)
			require.Len(t, want, map[string]int{"": 10, "p1": 5}[project])
		}
	})
	t.Run("trait descriptions", func(t *testing.T) {
		t.Parallel()
		got, err := db.TraitDescriptions(ctx, "", "", 2, "")
		require.NoError(t, err)
		require.Equal(t, []TraitDesc{{"t00", sample.TraitText}, {"t01", sample.TraitText}}, got)
		got, err = db.TraitDescriptions(ctx, "", "", 2, "t01")
		require.NoError(t, err)
		require.Equal(t, []TraitDesc{{"t02", sample.TraitText}, {"t02", sample.TraitInt}, {"t03", sample.TraitText}}, got,
			"t02's two types on one page")
		got, err = db.TraitDescriptions(ctx, "", "", 2, "tenant_id")
		require.NoError(t, err)
		require.Empty(t, got)
	})
	t.Run("trait values", func(t *testing.T) {
		t.Parallel()
		got, err := db.Traits(ctx, "", "t02", "", 4)
		require.NoError(t, err)
		require.Len(t, got, 4)
		all, err := db.Traits(ctx, "", "t02", "", 0)
		require.NoError(t, err)
		require.Len(t, all, 12, "6 integers and 6 texts")
		require.Equal(t, all[:4], got, "the first values in event order")
	})
}

func TestExpireEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, path := openTest(t)
	_, err := db.InsertEvents(ctx, events(), tenant)
	require.NoError(t, err)
	n, err := db.ExpireEvents(ctx, at(40)) // m1..m3; m4 (at 40) stays
	require.NoError(t, err)
	require.Equal(t, int64(3), n)
	check := func(db *DB) {
		t.Helper()
		evs, err := db.Events(ctx, EventFilter{})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, "m4", evs[0].MessageID)
		types, err := db.EventTypes(ctx, "", 0, "")
		require.NoError(t, err)
		require.Equal(t, []string{"image.upload"}, types)
		var rows int
		require.NoError(t, db.r.QueryRow(`SELECT (SELECT count(*) FROM event) + (SELECT count(*) FROM event_type)`).Scan(&rows))
		require.Equal(t, 1+1, rows, "no orphan events or types")
	}
	check(db)
	require.NoError(t, db.Close())
	db = openAt(t, path)
	check(db)
	// The expired type and message ids can come back.
	n2, err := db.InsertEvents(ctx, events()[:1], tenant)
	require.NoError(t, err)
	require.Equal(t, 1, n2)
	types, err := db.EventTypes(ctx, "", 0, "")
	require.NoError(t, err)
	require.Equal(t, []string{"compute.instance.create.end", "image.upload"}, types)
}

// TestExpireEventsTypeCache expires a type while its id is cached and then
// inserts it again on the same handle.
func TestExpireEventsTypeCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	_, err := db.InsertEvents(ctx, []sample.Event{{MessageID: "a", EventType: "x", Generated: at(1)}}, nil)
	require.NoError(t, err)
	_, err = db.ExpireEvents(ctx, at(2))
	require.NoError(t, err)
	_, err = db.InsertEvents(ctx, []sample.Event{{MessageID: "b", EventType: "y", Generated: at(3)},
		{MessageID: "c", EventType: "x", Generated: at(4)}}, nil)
	require.NoError(t, err)
	evs, err := db.Events(ctx, EventFilter{EventType: "x"})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	require.Equal(t, "c", evs[0].MessageID)
}

// Panko's sort (issue 15 item 2): every order of generated and message_id,
// asc or desc, pages through every event once with any limit, the
// marker resuming in that order.
func TestEventsSort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	type row struct {
		id  string
		gen int
	}
	var evs []sample.Event
	var rows []row
	for i := range 45 {
		// Groups of five share a generated time, and message_id order is
		// not generated order.
		r := row{fmt.Sprintf("e%02d", (i*7)%45), i / 5}
		rows = append(rows, r)
		evs = append(evs, sample.Event{MessageID: r.id, EventType: "t", Generated: at(r.gen)})
	}
	_, err := db.InsertEvents(ctx, evs, nil)
	require.NoError(t, err)
	cmpKey := func(k EventSort, a, b row) int {
		c := strings.Compare(a.id, b.id)
		if k.Key == EventSortGenerated {
			c = a.gen - b.gen
		}
		if k.Desc {
			c = -c
		}
		return c
	}
	G, GD := EventSort{Key: EventSortGenerated}, EventSort{Key: EventSortGenerated, Desc: true}
	M, MD := EventSort{Key: EventSortMessageID}, EventSort{Key: EventSortMessageID, Desc: true}
	for _, keys := range [][]EventSort{nil, {G}, {GD}, {M}, {MD}, {G, M}, {G, MD}, {GD, M}, {GD, MD}, {M, G}, {MD, GD}} {
		full := keys
		if len(full) == 0 {
			full = []EventSort{G, M}
		}
		want := slices.Clone(rows)
		slices.SortFunc(want, func(a, b row) int {
			for _, k := range append(slices.Clip(full), M) {
				if c := cmpKey(k, a, b); c != 0 {
					return c
				}
			}
			return 0
		})
		var wantIDs []string
		for _, r := range want {
			wantIDs = append(wantIDs, r.id)
		}
		for _, limit := range []int{1, 4, 5, 45} {
			t.Run(fmt.Sprintf("%v/%d", keys, limit), func(t *testing.T) {
				t.Parallel()
				require.Equal(t, wantIDs, pageAll(t, db, EventFilter{Limit: limit, Sort: keys}))
			})
		}
	}
	for _, tc := range []struct {
		keys []EventSort
		msg  string
	}{
		{[]EventSort{{Key: "event_type"}}, `unknown sort key "event_type"`},
		{[]EventSort{{Key: ""}}, `unknown sort key ""`},
		{[]EventSort{G, GD}, `sort key "generated" given twice`},
	} {
		_, err := db.Events(ctx, EventFilter{Sort: tc.keys})
		require.ErrorIs(t, err, ErrInvalid)
		require.ErrorContains(t, err, tc.msg)
	}
}

// Unowned adds the events of no project to a project's (Panko's admin
// view of its own project, issue 15 item 4).
func TestEventsUnowned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	evs := append(events(), sample.Event{MessageID: "m5", EventType: "identity.authenticate", Generated: at(50)})
	_, err := db.InsertEvents(ctx, evs, tenant)
	require.NoError(t, err)
	for _, tc := range []struct {
		f    EventFilter
		want []string
	}{
		{EventFilter{Project: "p0"}, []string{"m2"}},
		{EventFilter{Project: "p0", Unowned: true}, []string{"m2", "m5"}},
		{EventFilter{Project: "p1", Unowned: true, EventType: "compute.*"}, []string{"m1", "m3"}},
		{EventFilter{Unowned: true}, []string{"m1", "m2", "m3", "m4", "m5"}},
	} {
		require.Equal(t, tc.want, pageAll(t, db, tc.f), "%+v", tc.f)
	}
}
