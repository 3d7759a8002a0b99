package series

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/stretchr/testify/require"
)

// TestMessageIDsArePerProject: a message id is unique per project. Another
// project's sample with the same id is stored (no pre-emption), each
// project finds its own, retention removes each project's entry, and the
// same id again in one project is a duplicate.
func TestMessageIDsArePerProject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := openTest(t, dir, Options{ChunkWindow: time.Hour})
	const uuid = "6f1c2a4e-0b7d-4c1e-9a55-3d2f8e1b7c90"
	in := []Input{
		{Key: key("cpu", "vm-a", "pa"), T: t0, V: 1, MessageID: "m-1", Recorded: t0},
		{Key: key("cpu", "vm-a", "pa"), T: t0 + sec, V: 2, MessageID: uuid, Recorded: t0},
	}
	res, err := db.Write(ctx, in)
	require.NoError(t, err)
	require.Equal(t, 2, res.Written)
	idA := res.IDs[0]

	// Project B reuses both ids: stored, not "duplicates" of A's.
	res, err = db.Write(ctx, []Input{
		{Key: key("cpu", "vm-b", "pb"), T: t0, V: 10, MessageID: "m-1", Recorded: t0},
		{Key: key("cpu", "vm-b", "pb"), T: t0 + sec, V: 20, MessageID: uuid, Recorded: t0},
		{Key: key("cpu", "vm-b", "pb"), T: t0 + 2*sec, V: 30, MessageID: "m-1", Recorded: t0}, // same batch, same project
	})
	require.NoError(t, err)
	require.Equal(t, 2, res.Written)
	require.Equal(t, 1, res.Duplicates)
	idB := res.IDs[0]

	check := func(t *testing.T, db *DB) {
		for _, id := range []string{"m-1", uuid} {
			gid, _, ok, err := db.Lookup(ctx, id, "pa")
			require.NoError(t, err)
			require.True(t, ok, id)
			require.Equal(t, idA, gid)
			gid, _, ok, err = db.Lookup(ctx, id, "pb")
			require.NoError(t, err)
			require.True(t, ok, id)
			require.Equal(t, idB, gid)
			_, _, ok, err = db.Lookup(ctx, id, "pc")
			require.NoError(t, err)
			require.False(t, ok, id)
			_, _, ok, err = db.Lookup(ctx, id, "")
			require.NoError(t, err)
			require.True(t, ok, "an admin finds one of them")
		}
		// Again in each project: duplicates.
		res, err := db.Write(ctx, []Input{
			{Key: key("cpu", "vm-a", "pa"), T: t0 + 5*sec, V: 1, MessageID: "m-1", Recorded: t0},
			{Key: key("cpu", "vm-b", "pb"), T: t0 + 5*sec, V: 1, MessageID: uuid, Recorded: t0},
		})
		require.NoError(t, err)
		require.Equal(t, 2, res.Duplicates)
	}
	t.Run("open", func(t *testing.T) { check(t, db) })
	require.NoError(t, db.Close())
	db = openTest(t, dir, Options{ChunkWindow: time.Hour})
	t.Run("reopened", func(t *testing.T) { check(t, db) })
}

// TestLegacyMessageIDsMigrate: a store written with one index entry per id
// (before per-project ids) is rewritten at open: lookups and dedup work.
func TestLegacyMessageIDsMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := openTest(t, dir, Options{ChunkWindow: time.Hour})
	const uuid = "6f1c2a4e-0b7d-4c1e-9a55-3d2f8e1b7c90"
	res, err := db.Write(ctx, []Input{
		{Key: key("cpu", "vm-a", "pa"), T: t0, V: 1, MessageID: "m-1", Recorded: t0},
		{Key: key("cpu", "vm-b", "pb"), T: t0, V: 2, MessageID: uuid, Recorded: t0},
	})
	require.NoError(t, err)
	require.Equal(t, 2, res.Written)
	// Rewrite the index in the legacy form.
	b := db.pdb.NewBatch()
	for _, e := range []struct{ project, id string }{{"pa", "m-1"}, {"pb", uuid}} {
		v, closer, err := db.pdb.Get(msgKey(e.project, e.id))
		require.NoError(t, err)
		val := append([]byte(nil), v...)
		require.NoError(t, closer.Close())
		legacy := append([]byte{pMsgID, msgLegacyRaw}, e.id...)
		if e.id == uuid {
			u := msgPrefix(uuid)[2:]
			legacy = append([]byte{pMsgID, msgLegacyUUID}, u...)
		}
		require.NoError(t, b.Set(legacy, val, nil))
		require.NoError(t, b.Delete(msgKey(e.project, e.id), nil))
	}
	require.NoError(t, b.Set([]byte{pMsgID, msgLegacyRaw, 'x'}, append(make([]byte, 8), make([]byte, 8)...), nil)) // unknown series 0
	require.NoError(t, b.Commit(pebble.Sync))
	require.NoError(t, db.Close())

	db = openTest(t, dir, Options{ChunkWindow: time.Hour})
	for _, e := range []struct{ project, id string }{{"pa", "m-1"}, {"pb", uuid}} {
		_, _, ok, err := db.Lookup(ctx, e.id, e.project)
		require.NoError(t, err)
		require.True(t, ok, e.id)
	}
	res, err = db.Write(ctx, []Input{
		{Key: key("cpu", "vm-a", "pa"), T: t0 + sec, V: 1, MessageID: "m-1", Recorded: t0},
		{Key: key("cpu", "vm-a", "pa"), T: t0 + 2*sec, V: 1, MessageID: uuid, Recorded: t0},
	})
	require.NoError(t, err)
	require.Equal(t, 1, res.Duplicates, "m-1 is pa's")
	require.Equal(t, 1, res.Written, "the uuid is pb's, not pa's")
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{pMsgID, msgLegacyUUID}, UpperBound: []byte{pMsgID, msgUUID}})
	require.NoError(t, err)
	require.False(t, it.First(), "no legacy key left")
	require.NoError(t, it.Close())
}
