package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/pollster"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// TestPoll runs the plugin in-process over real gRPC, as the agent would.
func TestPoll(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "loadavg")
	require.NoError(t, os.WriteFile(path, []byte("0.50 1.25 2.00 1/234 5678\n"), 0o644))
	c := sdktest.Pollster(t, spec(), "path = \""+path+"\"\nresource_id = \"web-1\"\n")
	res, err := c.Poll(t.Context(), pollster.Request{Meters: []string{"loadavg.1min", "loadavg.15min"}})
	require.NoError(t, err)
	require.Len(t, res.Samples, 2)
	require.Equal(t, "loadavg.1min", res.Samples[0].Name)
	require.Equal(t, 0.5, res.Samples[0].Volume)
	require.Equal(t, "loadavg.15min", res.Samples[1].Name)
	require.Equal(t, 2.0, res.Samples[1].Volume)
	require.Equal(t, "web-1", res.Samples[1].ResourceID)
	require.Empty(t, res.Samples[0].MessageID, "a polled sample has no natural id")
}

// TestConfig: a bad attribute is an error at that attribute.
func TestConfig(t *testing.T) {
	t.Parallel()
	p := sdktest.Start(t, spec().Info(), spec().Register())
	diags := p.Configure(t, "path = \"proc/loadavg\"\n")
	require.True(t, diags.HasErrors())
	require.Contains(t, diags.Error(), "config.hcl:1,8-22: Invalid value for path; must be an absolute path")
}

// TestExample decodes example.hcl against the plugin's schema.
func TestExample(t *testing.T) {
	t.Parallel()
	sdktest.CheckExample(t, "example.hcl", spec().Info(), spec().Register())
}
