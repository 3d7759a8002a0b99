package index

import (
	"context"
	"database/sql"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// openV1Fixture writes testdata/index-v1.sql, the dump of an index that
// main's code at schema version 1 wrote (one trait row per trait), into a
// new database file and returns its path. The events are events(), then
// "twice" (a trait name given twice, a NaN and an infinite float, a
// non-ASCII name, a datetime before 1970) and "bare" (no traits); the
// resource r1 has two metadata versions.
func openV1Fixture(t *testing.T) string {
	t.Helper()
	dump, err := os.ReadFile(filepath.Join("testdata", "index-v1.sql"))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "index.db")
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = raw.Exec(string(dump))
	require.NoError(t, err)
	require.NoError(t, raw.Close())
	return path
}

// TestMigrateV1 opens an index written at schema version 1: migration 2
// packs its trait rows into their events and drops the trait table, and
// every event listing answers as version 1 did.
func TestMigrateV1(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := openV1Fixture(t)
	db := openAt(t, path)

	var version int
	require.NoError(t, db.r.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&version))
	require.Equal(t, SchemaVersion, version)
	var tables int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name IN ('trait', 'trait_text')`).Scan(&tables))
	require.Zero(t, tables, "the trait table and its index are gone")

	want := events()
	for i := range want {
		want[i].Traits = sortedTraits(want[i].Traits)
	}
	want = append(want,
		sample.Event{MessageID: "twice", EventType: "x", Generated: at(50), Traits: []sample.Trait{
			text("a", "second"), integer("b", -7), float("c", 0), float("inf", math.Inf(-1)),
			datetime("old", at(-2_000_000_000)), text("ünï", "çödé x"),
		}},
		sample.Event{MessageID: "bare", EventType: "identity.authenticate", Generated: at(60)},
	)
	check := func(db *DB) {
		t.Helper()
		got, err := db.Events(ctx, EventFilter{})
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(want, got))
		for _, tc := range []struct {
			f    TraitFilter
			want int
		}{
			{TraitFilter{Name: "name", Value: "vm2"}, 1},
			{TraitFilter{Name: "n", Op: "ge", Type: sample.TraitInt, Value: "2"}, 2},
			{TraitFilter{Name: "b", Op: "lt", Type: sample.TraitInt, Value: "0"}, 1},
			{TraitFilter{Name: "inf", Op: "lt", Type: sample.TraitFloat, Value: "-1e300"}, 1},
			{TraitFilter{Name: "old", Op: "lt", Type: sample.TraitDatetime, Value: "1970-01-01T00:00:00Z"}, 1},
			{TraitFilter{Name: "ünï", Value: "çödé x"}, 1},
			// The NaN was NULL in the trait table: no comparison holds.
			{TraitFilter{Name: "c", Op: "eq", Type: sample.TraitFloat, Value: "0"}, 0},
			{TraitFilter{Name: "c", Op: "ne", Type: sample.TraitFloat, Value: "1"}, 0},
		} {
			evs, err := db.Events(ctx, EventFilter{Traits: []TraitFilter{tc.f}})
			require.NoError(t, err)
			require.Len(t, evs, tc.want, "%+v", tc.f)
		}
		ds, err := db.TraitDescriptions(ctx, "x", "", 0, "")
		require.NoError(t, err)
		require.Equal(t, []TraitDesc{{"a", sample.TraitText}, {"b", sample.TraitInt}, {"c", sample.TraitFloat},
			{"inf", sample.TraitFloat}, {"old", sample.TraitDatetime}, {"ünï", sample.TraitText}}, ds)
		h, err := db.History(ctx, "r1")
		require.NoError(t, err)
		require.Len(t, h, 2, "the resource index is kept")
	}
	check(db)

	// The migrated message ids still deduplicate; new events mix in.
	n, err := db.InsertEvents(ctx, append(events()[:1], sample.Event{MessageID: "new", EventType: "x", Generated: at(70),
		Traits: []sample.Trait{text("a", "third")}}), tenant)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	want = append(want, sample.Event{MessageID: "new", EventType: "x", Generated: at(70), Traits: []sample.Trait{text("a", "third")}})
	check(db)
	vals, err := db.Traits(ctx, "x", "a", "", 0)
	require.NoError(t, err)
	require.Equal(t, []sample.Trait{text("a", "second"), text("a", "third")}, vals)

	// Opened again, nothing migrates twice.
	require.NoError(t, db.Close())
	db = openAt(t, path)
	check(db)
	var migrations int
	require.NoError(t, db.r.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&migrations))
	require.Equal(t, SchemaVersion, migrations)
}

// sortedTraits returns trs sorted by name, as stored traits come back.
func sortedTraits(trs []sample.Trait) []sample.Trait {
	return slices.SortedFunc(slices.Values(trs), func(a, b sample.Trait) int { return strings.Compare(a.Name, b.Name) })
}
