package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
)

func TestLocatorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		series uint64
		t      int64
	}{
		{"zero", 0, 0},
		{"small", 1, 1_700_000_000_000_000},
		{"large series", 1<<60 - 1, 1_900_000_000_123_456},
		{"low bits", 0xfff, 42},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := locatorID(tc.series, tc.t)
			s, ts, ok := parseLocator(id)
			require.True(t, ok, id)
			require.Equal(t, tc.series, s)
			require.Equal(t, tc.t, ts)
		})
	}
}

func TestLocatorRejectsOtherIDs(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "x", sample.NewMessageID(), "not-a-uuid-at-all-but-36-chars-long!", "00000000-0000-8000-8000-00000000000G"} {
		_, _, ok := parseLocator(id)
		require.False(t, ok, id)
	}
	up := []byte(locatorID(0xabc, 99))
	for i := range up {
		if up[i] >= 'a' && up[i] <= 'f' {
			up[i] -= 32
		}
	}
	_, _, ok := parseLocator(string(up))
	require.False(t, ok)
}

func FuzzParseLocator(f *testing.F) {
	f.Add(locatorID(7, 123))
	f.Add(sample.NewMessageID())
	f.Fuzz(func(t *testing.T, id string) {
		if s, ts, ok := parseLocator(id); ok {
			require.Equal(t, id, locatorID(s, ts))
		}
	})
}

// TestVersion8IDOfItsOwn: a sample that comes with a version 8 message id
// (a client's, or a transformer's from before they used version 4) that
// reads as a canonical id naming no stored sample is found by its id, by
// GET and as a marker.
func TestVersion8IDOfItsOwn(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	ids := []string{locatorID(1<<40+5, 1_234_567), locatorID(1<<41+7, 7_654_321)}
	for _, id := range ids {
		_, _, ok := parseLocator(id)
		require.True(t, ok, "the id reads as a canonical one")
	}
	in := []sample.Sample{
		{Name: "derived", Type: sample.Gauge, Unit: "%", Volume: 1, ResourceID: "r", ProjectID: "p", Timestamp: t0, MessageID: ids[0]},
		{Name: "derived", Type: sample.Gauge, Unit: "%", Volume: 2, ResourceID: "r", ProjectID: "p", Timestamp: t0.Add(time.Minute), MessageID: ids[1]},
	}
	require.NoError(t, s.Write(ctx, in))
	for i, id := range ids {
		got, err := s.Sample(ctx, id, "p")
		require.NoError(t, err, id)
		require.Equal(t, id, got.MessageID)
		require.Equal(t, in[i].Volume, got.Volume)
	}
	page, err := s.Samples(ctx, Filter{Meter: "derived"}, ListOptions{Limit: 10, Marker: ids[1]})
	require.NoError(t, err)
	require.Len(t, page, 1, "newest first: after the marker comes the older sample")
	require.Equal(t, ids[0], page[0].MessageID)
	_, err = s.Sample(ctx, locatorID(1<<42, 1), "")
	require.ErrorIs(t, err, ErrNotFound)
}
