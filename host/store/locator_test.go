package store

import (
	"testing"

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
