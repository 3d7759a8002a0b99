package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// alarmReloadTmpl is an agent whose alarm block the test rewrites (%s).
const alarmReloadTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}
alarm {
%s
}
`

// TestIntegrationAlarmReload: `altimeter reload` applies the alarm block
// to the running agent: a new evaluation_interval (an alarm evaluated
// hourly is evaluated every second after the reload), a new delivery
// delay and webhook settings while a delivery waits for its delay (it is
// delivered, once), and a bad value fails the reload with its diagnostic
// and keeps the settings in force.
func TestIntegrationAlarmReload(t *testing.T) {
	skipShort(t)
	rcv, hook := newReceiver(t)
	a := startAgent(t, fmt.Sprintf(alarmReloadTmpl, `evaluation_interval = "1h"`))
	a.adminToken()
	tok := strings.TrimSpace(a.cli("token", "create", "--project", "p", "--role", "member", "--data-dir", "data"))
	c := &client{t: t, base: "http://" + a.api, token: tok}
	code, body := c.do("POST", "/v2/alarms", map[string]any{
		"name": "hot", "type": "threshold",
		"threshold_rule": map[string]any{"meter_name": "cpu_util", "threshold": 50, "comparison_operator": "gt", "statistic": "max",
			"period": 1, "evaluation_periods": 1, "query": []map[string]string{{"field": "resource_id", "op": "eq", "value": "r1"}}},
		"alarm_actions": []string{hook + "/alarm"}, "ok_actions": []string{hook + "/ok"},
	})
	require.Equal(t, http.StatusCreated, code, string(body))
	var al map[string]any
	require.NoError(t, json.Unmarshal(body, &al))
	id := al["alarm_id"].(string)
	// A feeder posts the value every 200 ms, so that the alarm's window
	// (1 s) always holds a sample, whatever the test waits for.
	var value atomic.Int64
	value.Store(90)
	stop := feedEvery(t, 200*time.Millisecond, func() error {
		return postJSON(c, "/v2/meters/cpu_util", []map[string]any{{
			"counter_name": "cpu_util", "counter_type": "gauge", "counter_unit": "%", "counter_volume": value.Load(),
			"resource_id": "r1", "timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000000"),
		}})
	})
	defer stop()
	state := func() string { return alarmState(c, id) }
	received := func(st string) int {
		got, _ := rcv.transitions()
		n := 0
		for _, s := range got {
			if s == st {
				n++
			}
		}
		return n
	}
	reloads := func(result string) float64 {
		return metric(a.metrics(), `altimeter_config_reloads_total{result="`+result+`"}`)
	}
	reload := func(block, result string, want float64) {
		t.Helper()
		a.writeConfig(fmt.Sprintf(alarmReloadTmpl, block))
		out, code := cli(t, a.dir, "reload", "-data-dir", "data")
		require.Equal(t, 0, code, out)
		waitFor(t, 10*time.Second, "reload "+result, func() bool { return reloads(result) == want })
	}

	// Hourly: samples above the threshold change nothing for an hour.
	time.Sleep(time.Second)
	require.Equal(t, "insufficient data", state(), "no evaluation yet")

	// Every second, deliveries 3 s after the commit.
	reload(`evaluation_interval = "1s"
  delivery_delay = "3s"`, "success", 1)
	waitFor(t, 15*time.Second, "the alarm evaluated after the reload", func() bool { return state() == "alarm" })
	committed := time.Now()
	require.Zero(t, received("alarm"), "waiting for its delivery delay")
	// Reloaded while the delivery waits: it is still delivered, once.
	reload(`evaluation_interval = "1s"
  delivery_delay = "500ms"
  webhook_timeout = "5s"`, "success", 2)
	waitFor(t, 15*time.Second, "the alarm delivery", func() bool { return received("alarm") == 1 })
	t.Logf("delivered %s after the commit was seen", time.Since(committed).Round(time.Millisecond))
	// The reload counter can move before the scheduler logs its new settings.
	waitFor(t, 5*time.Second, "the new alarm settings logged", func() bool {
		return strings.Contains(a.log.String(), "alarm settings changed: interval=1s delivery_delay=500ms takeover_delay=10.5s")
	})

	// A bad value: the reload fails with the diagnostic, nothing changes.
	reload(`evaluation_interval = "1s"
  delivery_delay = "500ms"
  takeover_delay = "2s"
  webhook_timeout = "5s"`, "failure", 1)
	waitFor(t, 5*time.Second, "the diagnostic logged", func() bool { return strings.Contains(a.log.String(), "Invalid takeover_delay") })
	require.Equal(t, 2.0, reloads("success"))
	// Still evaluated every second: back to ok, delivered once.
	value.Store(10)
	waitFor(t, 15*time.Second, "ok after the failed reload", func() bool { return state() == "ok" && received("ok") == 1 })
	time.Sleep(time.Second)
	_, dups := rcv.transitions()
	require.Empty(t, dups)
	require.Equal(t, 1, received("alarm"))
}
