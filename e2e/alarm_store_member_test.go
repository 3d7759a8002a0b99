package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestIntegrationAlarmStoreMember: only the store member (n1) holds the
// samples; n2 evaluates its share of the alarms through n1's API
// (alarm { store_url }), so every alarm reaches alarm, whichever member
// owns it.
func TestIntegrationAlarmStoreMember(t *testing.T) {
	skipShort(t)
	const nAlarms = 20
	n1 := startMember(t, "n1", nil, alarmMemberBody)
	n2 := startMember(t, "n2", []string{n1.raft}, fmt.Sprintf(`
alarm {
  evaluation_interval = "1s"
  store_url           = "http://%s"
}
`, n1.api))
	waitLive(t, n1.admin(), n1, n2)
	tok := strings.TrimSpace(n1.cli("token", "create", "--project", "p", "--role", "member", "--data-dir", "data"))
	c1 := &client{t: t, base: "http://" + n1.api, token: tok}
	for i := range nAlarms {
		code, body := c1.do("POST", "/v2/alarms", map[string]any{
			"name": fmt.Sprintf("a%02d", i), "type": "threshold",
			"threshold_rule": map[string]any{"meter_name": "load", "threshold": 50, "comparison_operator": "gt", "statistic": "max",
				"period": 1, "evaluation_periods": 1, "query": []map[string]string{{"field": "resource_id", "op": "eq", "value": fmt.Sprintf("r%02d", i)}}},
		})
		require.Equal(t, http.StatusCreated, code, string(body))
	}
	waitFor(t, 60*time.Second, "every alarm in alarm", func() bool {
		samples := make([]map[string]any, nAlarms)
		ts := time.Now().UTC().Format("2006-01-02T15:04:05.000000")
		for i := range samples {
			samples[i] = map[string]any{"counter_name": "load", "counter_type": "gauge", "counter_unit": "%",
				"counter_volume": 90, "resource_id": fmt.Sprintf("r%02d", i), "timestamp": ts}
		}
		code, body := c1.do("POST", "/v2/meters/load", samples)
		require.Equal(t, http.StatusCreated, code, string(body))
		code, body = c1.do("GET", "/v2/alarms?q.field=state&q.op=eq&q.value=alarm&limit=1000", nil)
		require.Equal(t, http.StatusOK, code, string(body))
		var rows []map[string]any
		require.NoError(t, json.Unmarshal(body, &rows))
		return len(rows) == nAlarms
	})
	// n2 counts a transition once the leader's answer to its forwarded
	// commit is back, which may be a moment after n1 shows the state.
	var byN2 float64
	waitFor(t, 10*time.Second, "n2 evaluated its share through n1's API", func() bool {
		byN2 = metric(n2.metrics(), `altimeter_alarm_transitions_total{result="committed"}`)
		return byN2 > 0
	})
	t.Logf("n2 committed %.0f of %d transitions reading n1's store", byN2, nAlarms)
}
