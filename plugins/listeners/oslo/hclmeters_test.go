package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/notification"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

func TestHCLMeterBlocks(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../../internal/notification/testdata/volume.create.end.json")
	require.NoError(t, err)
	var msg map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&msg))
	n, err := notification.FromMessage(msg)
	require.NoError(t, err)

	defs, err := compileMeterBlocks([]meterBlock{{
		Name: "volume.size.hcl", EventType: []string{"volume.create.*"}, Type: "gauge", Unit: "GB",
		Volume: "$.payload.size", ResourceID: "$.payload.volume_id", ProjectID: "$.payload.tenant_id",
		Metadata: map[string]string{"name": "$.payload.display_name"},
	}, {
		Name: "volume.count.hcl", EventType: []string{"volume.create.end"}, Type: "delta", Unit: "volume",
		Volume: "1", ResourceID: "$.payload.volume_id",
	}})
	require.NoError(t, err)
	require.Len(t, defs, 2)
	got, err := defs[0].Samples(n)
	require.NoError(t, err)
	require.Len(t, got, 1)
	payload := n.Payload.(map[string]any)
	want, _ := payload["size"].(json.Number).Float64()
	require.Equal(t, want, got[0].Volume)
	require.Equal(t, payload["volume_id"], got[0].ResourceID)
	require.Equal(t, payload["tenant_id"], got[0].ProjectID)
	require.Equal(t, payload["display_name"], got[0].Metadata["name"])
	got, err = defs[1].Samples(n)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, 1.0, got[0].Volume)

	_, err = compileMeterBlocks([]meterBlock{{Name: "bad", EventType: []string{"x"}, Type: "gauge", Unit: "u", Volume: "$.payload[", ResourceID: "$.payload.id"}})
	require.ErrorContains(t, err, "meter.0.name")
}

// TestHCLMeterBlocksConfig: meter blocks decode from HCL through the
// plugin's schema over real gRPC, and a bad one is reported at its block.
func TestHCLMeterBlocksConfig(t *testing.T) {
	t.Parallel()
	sp := spec()
	p := sdktest.Start(t, sp.Info(), sp.Register())
	good := `
meter "volume.size" {
  event_type  = ["volume.create.end"]
  type        = "gauge"
  unit        = "GB"
  volume      = "$.payload.size"
  resource_id = "$.payload.volume_id"
}
`
	require.False(t, p.Configure(t, good).HasErrors())
	diags := sdktest.Start(t, sp.Info(), sp.Register()).Configure(t, `
meter "volume.size" {
  event_type  = ["volume.create.end"]
  type        = "gauge"
  unit        = "GB"
  volume      = "$.payload["
  resource_id = "$.payload.volume_id"
}
`)
	require.True(t, diags.HasErrors())
	require.Contains(t, diags.Error(), "volume.size")
}
