package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/base"
)

func TestPins(t *testing.T) {
	t.Parallel()
	c, diags := load(t, false, "testdata/pins/pins.good.hcl")
	require.Empty(t, diags, Format(diags))
	require.True(t, c.Agent.InsecurePluginPermissions)
	require.Equal(t, 2, c.Agent.InsecurePluginPermissionsRange.Start.Line)
	require.Len(t, c.Pins, 2)
	host := c.Pins[0]
	require.Equal(t, base.Pollster, host.Kind)
	require.Equal(t, "host", host.Name)
	require.Equal(t, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", host.SHA256, "lower-cased")
	require.Equal(t, 6, host.SHA256Range.Start.Line)
	require.Equal(t, 12, host.SHA256Range.Start.Column)
	require.Equal(t, base.Publisher, c.Pins[1].Kind)

	// Strict unless said otherwise.
	c, diags = load(t, false, "testdata/minimal.good.hcl")
	require.Empty(t, diags, Format(diags))
	require.False(t, c.Agent.InsecurePluginPermissions)
	require.Empty(t, c.Pins)
}

func TestBadPins(t *testing.T) {
	t.Parallel()
	cases := []struct{ file, want string }{
		{"digest.bad.hcl", `testdata/pins/digest.bad.hcl:2:12: Invalid SHA-256 digest: "9f86d081884c7d659a2feaa0c55ad015" is not a SHA-256 digest: want 64 hexadecimal digits, as ` + "`sha256sum altimeter-pollster-host`" + ` prints them.`},
		{"kind.bad.hcl", `testdata/pins/kind.bad.hcl:1:8: Invalid plugin kind: "poller" is not a plugin kind; use pollster, listener, transformer or publisher.`},
		{"missing.bad.hcl", `testdata/pins/missing.bad.hcl:1:26: Missing required argument: The argument "sha256" is required`},
		{"dup.bad.hcl", `testdata/pins/dup.bad.hcl:5:1: Duplicate plugin block: plugin.pollster.host is already declared at testdata/pins/dup.bad.hcl:1,1-25.`},
		{"strict.bad.hcl", `testdata/pins/strict.bad.hcl:2:31: Incorrect value type: Inappropriate value for attribute "strict_plugin_permissions": a bool is required.`},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			_, diags := load(t, false, filepath.Join("testdata", "pins", tc.file))
			require.True(t, diags.HasErrors())
			got := Format(diags)
			require.True(t, strings.HasPrefix(got, tc.want), "want prefix\n%s\ngot\n%s", tc.want, got)
		})
	}
}

// refusedError stands for the plugin manager's RefusedError, which config
// must not import.
type refusedError struct{ msg string }

func (e *refusedError) Error() string   { return e.msg }
func (e *refusedError) Summary() string { return "Plugin binary refused" }

func TestResolveRefusedPlugin(t *testing.T) {
	t.Parallel()
	c, diags := load(t, false, "testdata/pins/refused.bad.hcl")
	require.Empty(t, diags, Format(diags))
	diags = c.Resolve(func(k base.Kind, name string) (*base.Info, error) {
		if k == base.Pollster {
			return nil, fmt.Errorf("pollster %q: %w", name, &refusedError{"/p/altimeter-pollster-host: sha256 mismatch: expected a, actual b"})
		}
		return fakeDescribe(k, name)
	})
	require.True(t, strings.HasPrefix(Format(diags),
		`testdata/pins/refused.bad.hcl:1:10: Plugin binary refused: pollster "host": /p/altimeter-pollster-host: sha256 mismatch: expected a, actual b`), Format(diags))
}
