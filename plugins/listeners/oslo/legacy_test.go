package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/notification/meters"
)

// TestLegacyMeters: with the built-in definitions the listener makes
// Ceilometer's default meters and no others; legacy_meters = true adds the
// legacy existence meters (here instance, port and port.create) and
// changes nothing else.
func TestLegacyMeters(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "internal", "notification", "testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	run := func(legacy bool) []string {
		c := defaultConfig()
		c.LegacyMeters = legacy
		s, err := validate(c)
		require.NoError(t, err)
		m, err := loadMapper(s)
		require.NoError(t, err)
		var out []string
		for _, f := range files {
			body, err := os.ReadFile(f)
			require.NoError(t, err)
			n, err := decodeNotice(body, "info", fixtureTime)
			require.NoError(t, err, f)
			n.PrepareDocument()
			got, _ := m.Samples(&n.Notification)
			for _, s := range got {
				out = append(out, strings.TrimSuffix(filepath.Base(f), ".json")+"/"+s.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	defaults, withLegacy := run(false), run(true)
	legacyNames := meters.Legacy().Meters()
	for _, k := range defaults {
		_, name, _ := strings.Cut(k, "/")
		require.NotContains(t, legacyNames, name, "%s: not one of Ceilometer's defaults", k)
	}
	var extra []string
	for _, k := range withLegacy {
		if !slices.Contains(defaults, k) {
			extra = append(extra, k)
		}
	}
	require.Equal(t, []string{
		"compute.instance.create.end/instance", "compute.instance.exists/instance", // create.error: priority error, not metered
		"port.create.end/port", "port.create.end/port.create",
	}, extra)
	require.Len(t, withLegacy, len(defaults)+len(extra), "legacy_meters only adds")
}
