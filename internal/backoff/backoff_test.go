package backoff

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDelay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		n    int
		want time.Duration
	}{
		{"zero is first", 0, time.Second},
		{"first", 1, time.Second},
		{"second", 2, 2 * time.Second},
		{"fifth", 5, 16 * time.Second},
		{"capped", 6, 30 * time.Second},
		{"huge n does not overflow", 1 << 30, 30 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Delay(time.Second, 30*time.Second, tc.n))
		})
	}
	require.Equal(t, time.Millisecond, Delay(time.Second, time.Millisecond, 3), "max below min: max wins")
}

func TestExp(t *testing.T) {
	t.Parallel()
	e := Exp{Min: 100 * time.Millisecond, Max: time.Second}
	var got []time.Duration
	for range 6 {
		require.Equal(t, e.Peek(), e.Peek())
		p := e.Peek()
		d := e.Next()
		require.Equal(t, p, d)
		got = append(got, d)
	}
	ms := time.Millisecond
	require.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}, got)
	e.Reset()
	require.Equal(t, 100*ms, e.Next())
	require.Equal(t, 200*ms, e.Next())
}

func TestSleep(t *testing.T) {
	t.Parallel()
	require.True(t, Sleep(t.Context(), time.Millisecond))
	require.True(t, Sleep(t.Context(), 0))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	require.False(t, Sleep(ctx, time.Hour))
	require.Less(t, time.Since(start), time.Second)
	require.False(t, Sleep(ctx, 0))
}
