package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

const computeTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

pollster "libvirt" {
  uri    = %q
  socket = %q
  host   = "compute-1"
}

polling "compute" {
  interval  = "5s"
  meters    = ["cpu", "vcpus", "memory", "power.state", "disk.device.*", "network.*"]
  discovery = ["libvirt.local_instances"]
  sinks     = ["compute"]
}

sink "compute" {
  publish "store" {}
}
`

// TestIntegrationCompute runs the compute agent's path end to end: a
// libvirtd (test driver) with 500 Nova-style domains, the libvirt pollster
// in its own process, one poll's samples (about 11 MB, past gRPC's default
// 4 MiB message limit) in the store, and the API answering per instance with
// Nova's project.
func TestIntegrationCompute(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	d, err := peer.StartLibvirtd(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(d.Stop)
	doms := peer.NovaDomains(500)
	node := filepath.Join(dir, "node.xml")
	require.NoError(t, peer.WriteNodeXML(node, doms))

	a := startAgent(t, fmt.Sprintf(computeTmpl, d.TestURI(node), d.Socket))
	admin := &client{t: t, base: "http://" + a.api, token: a.adminToken()}
	waitFor(t, 60*time.Second, "cpu of 500 instances", func() bool {
		return len(admin.list("/v2/meters?q.field=meter&q.op=eq&q.value=cpu&limit=1000")) == len(doms)
	})
	ms := admin.list("/v2/meters?q.field=resource_id&q.op=eq&q.value=" + doms[7].UUID)
	require.NotEmpty(t, ms)
	for _, m := range ms {
		require.Equal(t, doms[7].ProjectID, m["project_id"], m["name"])
		require.Equal(t, doms[7].UserID, m["user_id"], m["name"])
	}
	// The resource index is written just after the time series: a poll's
	// samples may be listed a moment before their resources are.
	var body []byte
	waitFor(t, 10*time.Second, "the instance in /v2/resources", func() bool {
		var code int
		code, body = admin.do("GET", "/v2/resources/"+doms[7].UUID, nil)
		return code == 200
	})
	require.Contains(t, string(body), doms[7].DisplayName)
	require.Contains(t, string(body), doms[7].ProjectID)
}
