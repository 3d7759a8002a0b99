package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

const computeAgent = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}
`

// defaultCompute returns the compute blocks of the repository's
// pipelines.hcl, which are commented out there (this machine has no
// libvirt by default), uncommented, with the pollster pointed at the test's
// libvirtd and a 3 s interval: the test runs what a user would uncomment.
func defaultCompute(t *testing.T, uri, socket string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "pipelines.hcl"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(b), "# --- compute ---\n")
	require.True(t, ok, "pipelines.hcl has no \"# --- compute ---\" section")
	section, _, ok := strings.Cut(rest, "# --- end compute ---")
	require.True(t, ok, "pipelines.hcl has no \"# --- end compute ---\" line")
	var out strings.Builder
	for _, line := range strings.Split(section, "\n") {
		switch {
		case line == "#" || line == "":
			out.WriteString("\n")
		case strings.HasPrefix(line, "# "):
			out.WriteString(line[2:] + "\n")
		default:
			t.Fatalf("pipelines.hcl: a line of the compute section is not commented: %q", line)
		}
	}
	cfg := out.String()
	for old, repl := range map[string]string{
		`uri    = "qemu:///system"`:                    fmt.Sprintf("uri    = %q", uri),
		`socket = "/var/run/libvirt/libvirt-sock"`:     fmt.Sprintf("socket = %q\n  host   = \"compute-1\"", socket),
		`interval  = "30s"`:                            `interval  = "3s"`,
		`sinks     = ["compute", "cpu_util", "cpu_del`: `sinks     = ["compute", "cpu_util", "cpu_del`,
	} {
		require.Equal(t, 1, strings.Count(cfg, old), "pipelines.hcl's compute section: %q", old)
		cfg = strings.Replace(cfg, old, repl, 1)
	}
	return cfg
}

// TestIntegrationCompute runs the compute agent's path end to end with the
// default pipelines.hcl's compute blocks: a libvirtd (test driver) with 500
// Nova-style domains, the libvirt pollster in its own process, one poll's
// samples (about 11 MB, past gRPC's default 4 MiB message limit) in the
// store, the API answering per instance with Nova's project, and the meters
// Ceilometer derived with transformers: every cpu_util within [0, 100 x
// vCPUs] and equal to the rate of the stored cpu samples.
func TestIntegrationCompute(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	d, err := peer.StartLibvirtd(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(d.Stop)
	doms := peer.NovaDomains(500)
	node := filepath.Join(dir, "node.xml")
	require.NoError(t, peer.WriteNodeXML(node, doms))

	a := startAgent(t, computeAgent+defaultCompute(t, d.TestURI(node), d.Socket))
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

	checkDerived(t, a, admin, doms)
}

// checkDerived waits for the second poll's derived meters and checks them
// against the raw samples in the store.
func checkDerived(t *testing.T, a *agentProc, admin *client, doms []peer.NovaDomain) {
	t.Helper()
	vcpus := map[string]int{}
	for _, d := range doms {
		vcpus[d.UUID] = d.VCPUs
	}
	waitFor(t, 60*time.Second, "cpu_util of 500 instances", func() bool {
		return len(admin.list("/v2/meters?q.field=meter&q.op=eq&q.value=cpu_util&limit=1000")) == len(doms)
	})
	// Each sink has its own store publisher: the raw cpu of a poll may land
	// a moment after the cpu_util made from it. A loaded machine may also
	// drop a whole poll at one sink (its store publisher busy past the poll
	// deadline, counted in /metrics) while another sink takes it: a cpu_util
	// whose previous raw poll was dropped cannot be checked, so wait until
	// every instance has one whose raw polls are both stored.
	var utils []listedSample
	var raw map[string][]listedSample
	waitFor(t, 60*time.Second, "the raw cpu samples of every cpu_util, and two stored polls per instance", func() bool {
		utils = admin.allSamples("cpu_util")
		raw = map[string][]listedSample{}
		for _, s := range admin.allSamples("cpu") {
			raw[s.ResourceID] = append(raw[s.ResourceID], s)
		}
		checkable := map[string]bool{}
		for _, u := range utils {
			k := rawIndex(raw[u.ResourceID], u.Timestamp)
			if k < 0 {
				return false
			}
			if k > 0 {
				checkable[u.ResourceID] = true
			}
		}
		return len(checkable) == len(doms)
	})
	require.GreaterOrEqual(t, len(utils), len(doms))
	dropped := 0.0
	for _, u := range utils {
		v := vcpus[u.ResourceID]
		require.NotZero(t, v, "cpu_util of an unknown resource %s", u.ResourceID)
		require.Equal(t, "%", u.Unit)
		require.Equal(t, "gauge", u.Type)
		require.GreaterOrEqual(t, u.Volume, 0.0, "%+v", u)
		require.LessOrEqual(t, u.Volume, 100.0*float64(v), "%+v", u)
		// Ceilometer's cpu_util: the rate of cpu over the previous poll,
		// per vCPU (cpu_number), in percent, at most 100.
		rs := raw[u.ResourceID]
		k := rawIndex(rs, u.Timestamp)
		if k == 0 {
			if dropped == 0 {
				dropped = sumMetric(a.metrics(), "altimeter_publisher_dropped_samples_total")
			}
			require.Positive(t, dropped, "cpu_util at %s has no raw cpu sample before it, and no poll was dropped", u.Timestamp)
			continue
		}
		t1, t0 := parseISO(t, rs[k].Timestamp), parseISO(t, rs[k-1].Timestamp)
		want := min(100, 100*(rs[k].Volume-rs[k-1].Volume)/(t1.Sub(t0).Seconds()*1e9*float64(v)))
		require.InDelta(t, want, u.Volume, 0.01*want+1e-9, "%s at %s", u.ResourceID, u.Timestamp)
	}
	// The other derived meters are there with Ceilometer's names and units.
	for meter, unit := range map[string]string{
		"cpu.delta": "ns", "disk.device.read.bytes.rate": "B/s", "disk.device.write.requests.rate": "request/s",
		"network.incoming.bytes.rate": "B/s", "network.outgoing.packets.rate": "packet/s",
	} {
		// Made by other sinks, each with its own store publisher: they may
		// land a moment after cpu_util.
		var ms []map[string]any
		waitFor(t, 30*time.Second, meter, func() bool {
			ms = admin.list("/v2/meters?q.field=meter&q.op=eq&q.value=" + meter + "&limit=1")
			return len(ms) == 1
		})
		require.Equal(t, unit, ms[0]["unit"], meter)
	}
	// Each series' first sample gave nothing, and was counted.
	series := `altimeter_plugin_events_total{event="first_sample",plugin="transformer.rate_of_change.cpu_util"}`
	require.Equal(t, float64(len(doms)), metric(a.metrics(), series))
}

// listedSample is a sample as GET /v2/meters/{name} lists it.
type listedSample struct {
	ID         string            `json:"message_id"`
	Unit       string            `json:"counter_unit"`
	Type       string            `json:"counter_type"`
	Volume     float64           `json:"counter_volume"`
	ResourceID string            `json:"resource_id"`
	Timestamp  string            `json:"timestamp"`
	Metadata   map[string]string `json:"resource_metadata"`
}

// allSamples lists every sample of meter, a page of 1,000 at a time.
func (c *client) allSamples(meter string) []listedSample {
	c.t.Helper()
	var all []listedSample
	marker := ""
	for {
		path := "/v2/meters/" + meter + "?limit=1000"
		if marker != "" {
			path += "&marker=" + url.QueryEscape(marker)
		}
		code, body := c.do("GET", path, nil)
		require.Equal(c.t, http.StatusOK, code, "%s: %s", path, body)
		var page []listedSample
		require.NoError(c.t, json.Unmarshal(body, &page))
		all = append(all, page...)
		if len(page) < 1000 {
			return all
		}
		marker = page[len(page)-1].ID
	}
}

// rawIndex sorts rs by time and returns the index of the sample at ts, or
// -1.
func rawIndex(rs []listedSample, ts string) int {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Timestamp < rs[j].Timestamp })
	return slices.IndexFunc(rs, func(r listedSample) bool { return r.Timestamp == ts })
}

func parseISO(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse("2006-01-02T15:04:05.999999", s)
	require.NoError(t, err)
	return ts
}
