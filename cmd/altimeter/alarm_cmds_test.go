package main

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/alarm"
	"github.com/altimeter/altimeter/host/api"
	"github.com/altimeter/altimeter/host/auth"
)

// TestAlarmCommands runs the alarm commands against the real API over an
// in-memory alarm state.
func TestAlarmCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokens, err := auth.Open(dir+"/data", hclog.NewNullLogger())
	require.NoError(t, err)
	member, _, err := tokens.Create(t.Context(), "p-a", auth.RoleMember)
	require.NoError(t, err)
	svc := alarm.NewService(alarm.NewMemNode(), alarm.Checker{}, alarm.DefaultHistoryLimits)
	srv := httptest.NewServer(api.New(api.Options{Auth: tokens, Alarms: svc}).Handler())
	t.Cleanup(srv.Close)
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(append(args, "--url", srv.URL, "--token", member)...)
		require.Equal(t, 0, code, errOut)
		return out
	}

	out := cli("alarm", "create", "--name", "cpu-high", "-t", "threshold", "-m", "cpu_util", "--threshold", "80",
		"--comparison-operator", "gt", "--period", "60", "--evaluation-periods", "3", "--statistic", "avg",
		"--query", "resource_id=r1", "--alarm-action", "log://", "--severity", "moderate",
		"--time-constraint", "name=nights;start=0 22 * * *;duration=3600;timezone=Europe/Paris", "-o", "json")
	var al map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &al))
	id := al["alarm_id"].(string)
	rule := al["threshold_rule"].(map[string]any)
	require.Equal(t, "cpu_util", rule["meter_name"])
	require.Equal(t, []any{map[string]any{"field": "resource_id", "op": "eq", "value": "r1"}}, rule["query"])
	require.Len(t, al["time_constraints"], 1)

	out = cli("alarm", "list", "--query", "severity=moderate")
	require.Contains(t, out, "ALARM_ID")
	require.Contains(t, out, id)
	require.NotContains(t, cli("alarm", "list", "--query", "severity=low"), id)

	out = cli("alarm", "update", id, "--threshold", "90", "--severity", "critical", "-o", "json")
	require.NoError(t, json.Unmarshal([]byte(out), &al))
	require.Equal(t, "critical", al["severity"])
	rule = al["threshold_rule"].(map[string]any)
	require.EqualValues(t, 90, rule["threshold"])
	require.Equal(t, "cpu_util", rule["meter_name"], "rule fields not given stay")

	out = cli("alarm", "show", id)
	require.Contains(t, out, "rule.threshold")
	require.Contains(t, out, "critical")

	require.Equal(t, "alarm\n", cli("alarm", "state", "set", id, "--state", "alarm"))
	require.Equal(t, "alarm\n", cli("alarm", "state", "get", id))

	out = cli("alarm", "history", id, "--sort", "timestamp:asc")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, out)
	require.Contains(t, lines[1], "creation")
	require.Contains(t, lines[3], "state transition")

	// Errors name the field; an unknown alarm is a 404.
	_, errOut, code := runCLI("alarm", "create", "--name", "x", "-t", "threshold", "-m", "m", "--threshold", "1",
		"--comparison-operator", "bigger", "--url", srv.URL, "--token", member)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "comparison_operator")
	_, errOut, code = runCLI("alarm", "create", "--name", "x", "-t", "threshold", "--time-constraint", "start", "--url", srv.URL, "--token", member)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "bad --time-constraint")

	cli("alarm", "delete", id)
	_, errOut, code = runCLI("alarm", "show", id, "--url", srv.URL, "--token", member)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "HTTP 404")
}
