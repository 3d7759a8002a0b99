package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

// TestIntegrationEventAlarm: an oslo notification published to RabbitMQ
// fires an event alarm when the store publisher stores its event (no
// polling), once; the webhook gets the transition once, and an alarm of
// another project does not fire.
func TestIntegrationEventAlarm(t *testing.T) {
	skipShort(t)
	rcv, hook := newReceiver(t)
	r := peer.NeedRabbitMQ(t)
	url := peer.VHost(t, r)
	a := startAgent(t, fmt.Sprintf(notifyTmpl, url)+`
alarm {
  evaluation_interval = "1h"
}
`)
	a.adminToken()
	const project = "a1b2c3d4e5f60718293a4b5c6d7e8f90" // the fixture's tenant
	tok := strings.TrimSpace(a.cli("token", "create", "--project", project, "--role", "member", "--data-dir", "data"))
	other := strings.TrimSpace(a.cli("token", "create", "--project", "someone-else", "--role", "member", "--data-dir", "data"))
	create := func(token, name string) string {
		c := &client{t: t, base: "http://" + a.api, token: token}
		code, body := c.do("POST", "/v2/alarms", map[string]any{
			"name": name, "type": "event",
			"event_rule":    map[string]any{"event_type": "compute.instance.*", "query": []map[string]string{{"field": "traits.state", "op": "eq", "value": "active"}}},
			"alarm_actions": []string{hook + "/alarm"},
		})
		require.Equal(t, http.StatusCreated, code, string(body))
		var al map[string]any
		require.NoError(t, json.Unmarshal(body, &al))
		return al["alarm_id"].(string)
	}
	mine, theirs := create(tok, "exists"), create(other, "exists")
	waitFor(t, 20*time.Second, "pool queue declared", func() bool { return queueDeclared(url, "altimeter") })

	publishAll(t, url, notifications(t, 3))
	state := func(token, id string) string {
		return alarmState(&client{t: t, base: "http://" + a.api, token: token}, id)
	}
	waitFor(t, 30*time.Second, "the event alarm in alarm and its action delivered", func() bool {
		got, _ := rcv.transitions()
		return state(tok, mine) == "alarm" && len(got) == 1
	})
	c := &client{t: t, base: "http://" + a.api, token: tok}
	code, body := c.do("GET", "/v2/alarms/"+mine, nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(body), "compute.instance.exists", "the reason names the event")
	require.Equal(t, "insufficient data", state(other, theirs), "another project's alarm does not see the event")
	// A second delivery would come from a later event of the batch: give
	// the event path a second to show one.
	time.Sleep(time.Second)
	got, dups := rcv.transitions()
	require.Len(t, got, 1, "three matching events, one transition (no repeat_actions)")
	require.Empty(t, dups)
}
