package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

const notifyTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

listener "oslo" "openstack" {
  transport_urls = ["%s"]
  exchanges      = ["nova"]
  pool           = "altimeter"
  batch_size     = 200
  batch_timeout  = "50ms"
  sinks          = ["bus"]
}

sink "bus" {
  publish "store" {}
}
`

// notifications builds n compute.instance.exists notifications (oslo v2
// envelopes) from the shared fixture: distinct message ids, 100 instances,
// distinct timestamps.
func notifications(t *testing.T, n int) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "internal", "notification", "testdata", "compute.instance.exists.json"))
	require.NoError(t, err)
	base := time.Now().Add(-time.Hour).UTC()
	out := make([][]byte, n)
	for i := range out {
		var msg map[string]any
		require.NoError(t, json.Unmarshal(raw, &msg))
		msg["message_id"] = fmt.Sprintf("30000000-0000-4000-8000-%012d", i)
		msg["timestamp"] = base.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02 15:04:05.000000")
		msg["payload"].(map[string]any)["instance_id"] = fmt.Sprintf("40000000-0000-4000-8000-%012d", i%100)
		inner, err := json.Marshal(msg)
		require.NoError(t, err)
		out[i], err = json.Marshal(map[string]any{"oslo.version": "2.0", "oslo.message": string(inner)})
		require.NoError(t, err)
	}
	return out
}

// TestIntegrationNotifications is the notification agent's user path:
// 10,000 notifications on RabbitMQ, the agent SIGKILLed while they are in
// flight and restarted; every notification is reflected exactly once in the
// API as an event and as its samples (redelivery plus dedup by message_id).
func TestIntegrationNotifications(t *testing.T) {
	skipShort(t)
	r := peer.NeedRabbitMQ(t)
	url := peer.VHost(t, r)
	a := startAgent(t, fmt.Sprintf(notifyTmpl, url))
	admin := &client{t: t, base: "http://" + a.api, token: a.adminToken()}
	// The listener declares the exchange, its queue and the bindings when
	// it connects, and then consumes.
	declared := func() bool {
		q, err := inspectQueue(url, "altimeter")
		return err == nil && q.Consumers > 0
	}

	waitFor(t, 20*time.Second, "pool queue declared and consumed", declared)
	// queued is the number of notifications ready in the listener's queue.
	queued := func() int { return queueReady(t, url, "altimeter") }

	// The notifications are preloaded with the agent stopped (as
	// bench/pipeline does): published while it consumes, a path that keeps
	// up with the publisher leaves nothing queued for the kill below.
	a.stop()
	const n = 10_000
	publishAll(t, url, notifications(t, n))
	require.Equal(t, n, queued(), "every notification queued")
	a.restart()
	events := func() int {
		// Pages of 1,000: a limit is at most the API's max_limit.
		seen := map[string]bool{}
		marker := ""
		for {
			code, body := admin.do("GET", "/v2/events?q.field=event_type&q.op=eq&q.value=compute.instance.exists&limit=1000&marker="+marker, nil)
			require.Equal(t, 200, code, string(body))
			var evs []map[string]any
			require.NoError(t, json.Unmarshal(body, &evs))
			for _, e := range evs {
				id := e["message_id"].(string)
				require.False(t, seen[id], "event %s twice", id)
				seen[id] = true
			}
			if len(evs) < 1000 {
				return len(seen)
			}
			marker = evs[len(evs)-1]["message_id"].(string)
		}
	}
	start := time.Now()
	// Kill as soon as the store took its first samples (the /metrics
	// counter is cheap to poll, unlike paging through the events), while
	// the queue still holds notifications: the kill is in flight.
	waitFor(t, 60*time.Second, "some samples stored", func() bool {
		return sumMetric(a.metrics(), "altimeter_publisher_out_samples_total") >= 1000
	})
	a.pluginPIDs()
	waiting := queued()
	require.NoError(t, a.cmd.Process.Kill())
	require.Positive(t, waiting, "every notification consumed before the kill: nothing was in flight")
	a.restart()
	waitFor(t, 120*time.Second, "all events stored", func() bool { return events() >= n })
	t.Logf("%d of %d notifications still queued when the agent was SIGKILLed; all %d stored once %.1fs after the first publish",
		waiting, n, n, time.Since(start).Seconds())
	require.Equal(t, n, events())
	stats := admin.list("/v2/meters/memory/statistics")
	require.Len(t, stats, 1)
	require.Equal(t, float64(n), stats[0]["count"], "one memory sample per notification")
	require.Equal(t, float64(8192), stats[0]["max"])
}
