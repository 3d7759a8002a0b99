package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStoreBlock(t *testing.T) {
	t.Parallel()
	cfg, diags := Load("testdata/full.good.hcl")
	require.False(t, diags.HasErrors(), Format(diags))
	st := cfg.Store
	require.NotNil(t, st)
	require.Equal(t, 30*time.Minute, st.OutOfOrder)
	require.Equal(t, 90*24*time.Hour, st.EventRetention)
	require.Len(t, st.Policies, 1)
	p := st.Policies[0]
	require.Equal(t, "cpu_fine", p.Name)
	require.Equal(t, 48*time.Hour, p.RawRetention)
	require.Equal(t, []string{"count", "sum", "min", "max", "mean", "stddev", "last", "p95"}, p.Aggregates)
	require.Equal(t, []Archive{{10 * time.Second, 8640}, {time.Hour, 720}}, p.Archives)
	require.Len(t, st.Rules, 2)
	require.Equal(t, "cpu_fine", st.Rules[0].Policy.Name)
	require.Equal(t, "hardware.*", st.Rules[1].Meters[0].Name)

	cfg, diags = Load("testdata/minimal.good.hcl")
	require.False(t, diags.HasErrors(), Format(diags))
	require.Nil(t, cfg.Store)
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7d", 7 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"90s", 90 * time.Second, true},
		{"d", 0, false},
		{"-1d", 0, false},
		{"1dx", 0, false},
		{"week", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDuration(tc.in)
			if !tc.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
