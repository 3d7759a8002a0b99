package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

const hardwareTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

pollster "snmp" {
  timeout = "500ms"
  retries = 0
  meter "custom.uptime" {
    oid   = "1.3.6.1.2.1.25.1.1.0"
    type  = "gauge"
    unit  = "s"
    value = "value / 100"
  }
}

polling "servers" {
  interval  = "2s"
  meters    = ["hardware.memory.total", "custom.*"]
  resources = ["snmp://%s@%s", "snmp://public@127.0.0.1:%d"]
  sinks     = ["hw"]
}

sink "hw" {
  publish "store" {}
}
`

// TestIntegrationHardware runs the central agent's SNMP path end to end:
// a real snmpd as one target and a dead port as another, both given as the
// polling block's resources (the ownership hook passes them through on one
// host); a configured meter selected by glob (dynamic meters); the dead
// target costs an error, not the live target's samples.
func TestIntegrationHardware(t *testing.T) {
	skipShort(t)
	s, err := peer.StartSnmpd(context.Background(), t.TempDir(), peer.SnmpdOptions{})
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	dead, err := peer.FreePort("udp")
	require.NoError(t, err)
	a := startAgent(t, fmt.Sprintf(hardwareTmpl, s.Community, s.Addr(), dead))
	admin := &client{t: t, base: "http://" + a.api, token: a.adminToken()}
	waitFor(t, 30*time.Second, "snmp samples in the store", func() bool {
		return len(admin.list("/v2/meters/custom.uptime?limit=1")) == 1 &&
			len(admin.list("/v2/meters/hardware.memory.total?limit=1")) == 1
	})
	mem := admin.list("/v2/meters/hardware.memory.total?limit=1")[0]
	require.Equal(t, s.Host, mem["resource_id"], "resource id is the host, never the URL with the community")
	out, err := s.Get(context.Background(), s.V2cArgs(), "1.3.6.1.4.1.2021.4.5.0") // memTotalReal, KB
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Contains(t, out[0], fmt.Sprint(int64(mem["counter_volume"].(float64))))
	// Only what the block asked for: no other hardware.* meter.
	for _, m := range admin.list("/v2/meters") {
		require.Contains(t, []string{"hardware.memory.total", "custom.uptime"}, m["name"])
	}
	require.NotContains(t, a.log.String(), s.Community, "the community is never logged")
	waitFor(t, 10*time.Second, "the dead target counted", func() bool {
		return metric(a.metrics(), `altimeter_source_errors_total{kind="resource",plugin="pollster.snmp",source="servers"}`) >= 1
	})
}
