package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

func instanceSamples(start time.Time, n int, flavor string) []sample.Sample {
	var out []sample.Sample
	for i := range n {
		md := map[string]string{"display_name": "web-1", "flavor.name": flavor, "flavor.id": "42", "host": "compute-1", "image_ref": "img-1"}
		ts := start.Add(time.Duration(i) * time.Second)
		out = append(out,
			sample.Sample{Name: "memory.usage", Type: sample.Gauge, Unit: "MB", Volume: float64(100 + i), ResourceID: "inst-1",
				ProjectID: "p1", UserID: "u1", Timestamp: ts, Metadata: md},
			sample.Sample{Name: "not.a.gnocchi.meter", Type: sample.Gauge, Unit: "x", Volume: 1, ResourceID: "inst-1", Timestamp: ts})
	}
	return out
}

func get(t *testing.T, g *peer.Gnocchi, path string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL+path, nil)
	require.NoError(t, err)
	req.SetBasicAuth("admin", "")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
	}
	return resp.StatusCode
}

// TestIntegrationGnocchi publishes to a real Gnocchi 4.4 (Debian; file
// storage, the machine's PostgreSQL, Ceilometer's resource types from
// ceilometer-upgrade): the unknown instance is created with the
// attributes of Ceilometer's definitions, the measures come back from the
// API and from python3-gnocchiclient's `gnocchi measures show`, a resend
// adds nothing, and changed metadata updates the resource.
func TestIntegrationGnocchi(t *testing.T) {
	peer.Need(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	g, err := peer.StartGnocchi(ctx, t.TempDir())
	require.NoError(t, err)
	t.Cleanup(g.Stop)

	c := sdktest.Publisher(t, spec(), fmt.Sprintf("url = %q\nuser = \"admin\"\narchive_policy = \"ceilometer-high\"\n", g.URL))
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Second).UTC()
	in := instanceSamples(start, 5, "m1.small")
	res, err := c.Publish(ctx, &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Equal(t, base.Accepted, res.Outcome, res.Reason)

	var inst map[string]any
	require.Equal(t, http.StatusOK, get(t, g, "/v1/resource/instance/inst-1", &inst))
	require.Equal(t, "web-1", inst["display_name"])
	require.Equal(t, "m1.small", inst["flavor_name"])
	require.Equal(t, "42", inst["flavor_id"])
	require.Equal(t, "compute-1", inst["host"])
	require.Equal(t, "p1", inst["project_id"])
	require.Equal(t, "u1", inst["user_id"])

	// Resending the same samples (a retry after a timeout) adds nothing:
	// Gnocchi keeps one point per timestamp.
	res, err = c.Publish(ctx, &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Equal(t, base.Accepted, res.Outcome, res.Reason)

	var measures [][]any
	deadline := time.Now().Add(60 * time.Second)
	for {
		measures = nil
		get(t, g, "/v1/resource/instance/inst-1/metric/memory.usage/measures?granularity=1&refresh=true", &measures)
		if len(measures) >= 5 {
			break
		}
		require.True(t, time.Now().Before(deadline), "measures not processed: %v", measures)
		time.Sleep(500 * time.Millisecond)
	}
	require.Len(t, measures, 5)
	for i, m := range measures {
		ts, err := time.Parse(time.RFC3339, m[0].(string))
		require.NoError(t, err)
		require.True(t, ts.Equal(start.Add(time.Duration(i)*time.Second)), "%v", m)
		require.Equal(t, float64(100+i), m[2])
	}

	out, err := exec.CommandContext(ctx, "gnocchi", "--os-auth-type", "gnocchi-basic", "--user", "admin", "--endpoint", g.URL,
		"measures", "show", "--resource-id", "inst-1", "memory.usage", "--granularity", "1", "-f", "json").CombinedOutput()
	require.NoError(t, err, "python3-gnocchiclient: %s", out)
	var shown []map[string]any
	require.NoError(t, json.Unmarshal(out, &shown), string(out))
	require.Len(t, shown, 5)
	require.Equal(t, 104.0, shown[4]["value"])

	// New metadata: the resource is updated.
	res, err = c.Publish(ctx, &sample.Batch{Samples: instanceSamples(start.Add(time.Minute), 1, "m1.large")})
	require.NoError(t, err)
	require.Equal(t, base.Accepted, res.Outcome, res.Reason)
	inst = nil
	require.Equal(t, http.StatusOK, get(t, g, "/v1/resource/instance/inst-1", &inst))
	require.Equal(t, "m1.large", inst["flavor_name"])

	// A batch naming 60 unknown instances: Gnocchi's "Unknown resources"
	// answer (about 6 KiB) is read whole, every instance is created, and
	// the measures are posted again.
	var many []sample.Sample
	for i := range 60 {
		s := instanceSamples(start, 1, "m1.small")[0]
		s.ResourceID = fmt.Sprintf("many-%02d", i)
		many = append(many, s)
	}
	res, err = c.Publish(ctx, &sample.Batch{Samples: many})
	require.NoError(t, err)
	require.Equal(t, base.Accepted, res.Outcome, res.Reason)
	for _, id := range []string{"many-00", "many-59"} {
		require.Equal(t, http.StatusOK, get(t, g, "/v1/resource/instance/"+id, nil), id)
	}
}

// TestDefinitions checks the built-in copy of Ceilometer's file compiles
// and maps meters to Ceilometer's resource types and policies.
func TestDefinitions(t *testing.T) {
	t.Parallel()
	d, err := parseDefinitions(ceilometerResources, "")
	require.NoError(t, err)
	require.Equal(t, "instance", d.byMeter["memory.usage"].Type)
	require.Equal(t, "ceilometer-low-rate", d.byMeter["cpu"].Policies["cpu"])
	require.Equal(t, "ceilometer-low", d.byMeter["memory.usage"].Policies["memory.usage"])
	require.Equal(t, "instance_disk", d.byMeter["disk.device.read.requests"].Type)
	require.NotEmpty(t, d.ArchivePolicies)
	attrs := d.byMeter["memory.usage"].attributes(asDict(&sample.Sample{Name: "memory.usage",
		Metadata: map[string]string{"instance_type": "m1.tiny", "display_name": "x"}}))
	require.Equal(t, "m1.tiny", attrs["flavor_name"], "instance_type is the first alternative")
	require.Equal(t, "x", attrs["display_name"])
	attrs = d.byMeter["memory.usage"].attributes(asDict(&sample.Sample{Name: "memory.usage",
		Metadata: map[string]string{"instance_type": "None", "flavor.name": "m1.small", "display_name": "None"}}))
	require.Equal(t, "m1.small", attrs["flavor_name"], "a null first alternative gives way to the next, as in Ceilometer")
	require.NotContains(t, attrs, "display_name", "a null attribute is left out, as Ceilometer does")

	o, err := parseDefinitions(ceilometerResources, "custom")
	require.NoError(t, err)
	require.Equal(t, "custom", o.byMeter["cpu"].Policies["cpu"])

	_, err = parseDefinitions([]byte("resources:\n  - metrics: {a: }\n"), "")
	require.Error(t, err)
}

func TestDistributeAlternatives(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"resource_metadata.(instance_type|(flavor.name)|flavor_name)": "resource_metadata.instance_type|resource_metadata.flavor.name|resource_metadata.flavor_name",
		"resource_metadata.(display_name|name)":                       "resource_metadata.display_name|resource_metadata.name",
		"resource_metadata.display_name":                              "resource_metadata.display_name",
		"resource_metadata.(a|(b)":                                    "resource_metadata.(a|(b)",
		"$.payload.(a|b) + 1":                                         "$.payload.(a|b) + 1",
	} {
		require.Equal(t, want, distributeAlternatives(in), in)
	}
}

// TestGnocchiDown: nothing listening is a Retry.
func TestGnocchiDown(t *testing.T) {
	t.Parallel()
	c := sdktest.Publisher(t, spec(), "url = \"http://127.0.0.1:1\"\nuser = \"admin\"\ntimeout = \"1s\"\n")
	res, err := c.Publish(context.Background(), &sample.Batch{Samples: instanceSamples(time.Now(), 1, "m1.small")})
	require.NoError(t, err)
	require.Equal(t, base.Retry, res.Outcome)
}

func TestExample(t *testing.T) {
	t.Parallel()
	sp := spec()
	sdktest.CheckExample(t, "example.hcl", sp.Info(), sp.Register())
}
