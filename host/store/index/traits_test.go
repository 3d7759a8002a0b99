package index

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

// packed is the packed form of trs.
func packed(trs []sample.Trait) []byte {
	var pk packer
	return pk.appendPacked(nil, trs)
}

func TestPackedRoundTrip(t *testing.T) {
	t.Parallel()
	trs := []sample.Trait{
		text("z", "last"), integer("i", math.MinInt64), float("f", -0.5), datetime("d", at(-1)),
		text("", ""), text("a", "first"), integer("max", math.MaxInt64), text("a", "again"),
		text("utf", "ü\x00\xff"), float("inf", math.Inf(1)),
	}
	b := packed(trs)
	got, err := unpackTraits(b)
	require.NoError(t, err)
	want := []sample.Trait{text("", ""), text("a", "again"), datetime("d", at(-1)), float("f", -0.5),
		integer("i", math.MinInt64), float("inf", math.Inf(1)), integer("max", math.MaxInt64),
		text("utf", "ü\x00\xff"), text("z", "last")}
	require.Empty(t, cmp.Diff(want, got))

	empty := packed(nil)
	require.Empty(t, empty)
	got, err = unpackTraits(empty)
	require.NoError(t, err)
	require.Nil(t, got)

	// A NaN reads back as 0, as the NULL the trait table stored.
	b = packed([]sample.Trait{float("nan", math.NaN())})
	got, err = unpackTraits(b)
	require.NoError(t, err)
	require.Equal(t, []sample.Trait{float("nan", 0)}, got)
}

func TestPackedDamaged(t *testing.T) {
	t.Parallel()
	b := packed([]sample.Trait{text("name", "value"), integer("n", 300), float("f", 1)})
	full, err := unpackTraits(b)
	require.NoError(t, err)
	bad := 0
	for i := 1; i < len(b); i++ {
		// A cut between two traits reads as the traits before it.
		got, err := unpackTraits(b[:i])
		if err != nil {
			require.ErrorIs(t, err, errPacked, "cut at %d", i)
			bad++
			continue
		}
		require.Less(t, len(got), len(full), "cut at %d", i)
		require.Empty(t, cmp.Diff(full[:len(got)], got, cmpopts.EquateEmpty()), "cut at %d", i)
	}
	require.Equal(t, len(b)-1-len(full), bad, "every cut but between traits is an error")
	_, err = unpackTraits(append([]byte{9}, b[1:]...))
	require.ErrorIs(t, err, errPacked)
	unknown := append([]byte{packedFormat, 1, 'x', 7}, b[1:]...)
	_, err = unpackTraits(unknown)
	require.ErrorContains(t, err, "trait type 7")
	_, err = traitMatcher{{name: "zz", typ: sample.TraitText, op: "="}}.match(b[:len(b)-1])
	require.ErrorIs(t, err, errPacked)
}

// TestTraitMatcherAsSQL: a trait condition on the packed form holds
// exactly when SQLite's comparison of the values the trait table held
// does (BINARY text order, integers, reals with a NaN as NULL), and the
// packed form holds the condition's needle then.
func TestTraitMatcherAsSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "cmp.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	texts := []string{"", "a", "A", "a\x00", "ab", "b", "ä", "\xff", "10", "9"}
	ints := []int64{math.MinInt64, -1, 0, 1, 10, 9, math.MaxInt64}
	floats := []float64{math.Inf(-1), -1.5, math.Copysign(0, -1), 0, 1e-300, 2.5, math.Inf(1), math.NaN()}
	times := []time.Time{at(-100), at(0), at(1), time.Unix(0, 0).UTC()}
	type value struct {
		tr  sample.Trait
		sql any    // the trait table's column value
		str string // as a filter value
	}
	var vals []value
	for _, s := range texts {
		vals = append(vals, value{text("t", s), s, s})
	}
	for _, i := range ints {
		vals = append(vals, value{integer("t", i), i, strconv.FormatInt(i, 10)})
	}
	for _, f := range floats {
		v := any(f)
		if math.IsNaN(f) {
			v = nil
		}
		vals = append(vals, value{float("t", f), v, strconv.FormatFloat(f, 'g', -1, 64)})
	}
	for _, d := range times {
		vals = append(vals, value{datetime("t", d), d.UnixNano(), d.Format(time.RFC3339Nano)})
	}
	for _, op := range []string{"eq", "ne", "lt", "le", "gt", "ge"} {
		for _, stored := range vals {
			pf := packed([]sample.Trait{stored.tr})
			for _, f := range vals {
				c, err := parseTraitCond(TraitFilter{Name: "t", Op: op, Type: f.tr.Type, Value: f.str})
				require.NoError(t, err)
				got, err := traitMatcher{c}.match(pf)
				require.NoError(t, err)
				want := false
				if stored.tr.Type == f.tr.Type {
					var arg any
					switch f.tr.Type {
					case sample.TraitText:
						arg = c.text
					case sample.TraitFloat:
						arg = c.flt
					default:
						arg = c.num
					}
					var res sql.NullBool
					require.NoError(t, db.QueryRowContext(ctx, fmt.Sprintf("SELECT ? %s ?", traitOps[op]), stored.sql, arg).Scan(&res))
					want = res.Valid && res.Bool
				}
				require.Equal(t, want, got, "%+v %s %q", stored.tr, op, f.str)
				if got {
					require.True(t, bytes.Contains(pf, c.needle()), "needle of %+v %s %q", stored.tr, op, f.str)
				}
			}
		}
	}
}

// TestEventsNeedleOnlyNarrows: an event whose text trait holds the bytes
// of another trait's packed form is not taken for an event with that
// trait: SQL's instr only narrows the rows the exact check reads.
func TestEventsNeedleOnlyNarrows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openTest(t)
	c, err := parseTraitCond(TraitFilter{Name: "name", Value: "vm2"})
	require.NoError(t, err)
	_, err = db.InsertEvents(ctx, []sample.Event{
		{MessageID: "fake", EventType: "x", Generated: at(1), Traits: []sample.Trait{text("note", string(c.needle()))}},
		{MessageID: "real", EventType: "x", Generated: at(2), Traits: []sample.Trait{text("name", "vm2")}},
	}, nil)
	require.NoError(t, err)
	for _, limit := range []int{0, 1} {
		evs, err := db.Events(ctx, EventFilter{Traits: []TraitFilter{{Name: "name", Value: "vm2"}}, Limit: limit})
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, "real", evs[0].MessageID)
	}
}

// TestPackerReuse: a packer that packs many events packs each as a new
// one would, whether the names repeat, move or change.
func TestPackerReuse(t *testing.T) {
	t.Parallel()
	events := [][]sample.Trait{
		{text("b", "1"), text("a", "2"), integer("c", 3)},
		{text("b", "4"), text("a", "5"), integer("c", 6)},
		{text("a", "7"), text("b", "8"), integer("c", 9)},
		{text("b", "x"), text("a", "y"), integer("d", 1)},
		{text("b", "x"), text("b", "y"), integer("d", 1)},
		{text("b", "x"), text("b", "z"), integer("d", 1)},
		nil,
		{text("b", "x"), text("a", "y")},
		{text("b", "x"), text("a", "y"), integer("d", 1)},
	}
	var pk packer
	for i, trs := range events {
		require.Equal(t, packed(trs), pk.appendPacked(nil, trs), "event %d", i)
	}
}
