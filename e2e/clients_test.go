package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

// openstackBin is Debian's python3-openstackclient, which takes
// python3-pankoclient's "event" commands (scripts/peers.sh installs both);
// it runs under /usr/bin/python3. pankoclient's own shell, /usr/bin/panko,
// is not run: with Debian's cliff 4.0 its command manager loads no
// command (PankoCommandManager(None) never calls load_commands), so
// "panko event list" answers "is not a panko command" before any request.
const openstackBin = "/usr/bin/openstack"

// osClient runs one of the real clients against the agent with token
// (keystoneauth's admin_token: the token is sent as X-Auth-Token to the
// given endpoint). It returns stdout and stderr, and fails the test with
// stderr when the exit status is not what wantErr says.
func osClient(t *testing.T, bin string, a *agentProc, token string, wantErr bool, args ...string) (string, string) {
	t.Helper()
	full := append([]string{"--os-auth-type", "admin_token", "--os-endpoint", "http://" + a.api, "--os-token", token}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Env = append(os.Environ(), "OS_CLOUD=", "HOME="+a.dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if wantErr {
		require.Error(t, err, "%s %s: %s", bin, strings.Join(args, " "), stdout.String())
	} else {
		require.NoError(t, err, "%s %s: %s", bin, strings.Join(args, " "), stderr.String())
	}
	return stdout.String(), stderr.String()
}

func osJSON[T any](t *testing.T, bin string, a *agentProc, token string, args ...string) T {
	t.Helper()
	out, _ := osClient(t, bin, a, token, false, append(args, "-f", "json")...)
	var v T
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	return v
}

// TestIntegrationPankoClient drives the event API with the real
// python3-pankoclient through openstackclient ("openstack event ..."), on
// events the oslo listener made of
// notifications published to RabbitMQ (one without payload): list with
// filters, sort and paging, show, event types, trait descriptions and
// values, capabilities; another project sees nothing; admin's
// all_tenants; every answer carries the request id keystoneauth logs.
func TestIntegrationPankoClient(t *testing.T) {
	skipShort(t)
	if _, err := os.Stat(openstackBin); err != nil {
		t.Fatalf("%s missing (install with: make peers, or apt-get install python3-openstackclient python3-pankoclient)", openstackBin)
	}
	r := peer.NeedRabbitMQ(t)
	url := peer.VHost(t, r)
	a := startAgent(t, fmt.Sprintf(notifyTmpl, url))
	admin := a.adminToken()
	const project = "a1b2c3d4e5f60718293a4b5c6d7e8f90" // the fixture's tenant
	tok := strings.TrimSpace(a.cli("token", "create", "--project", project, "--role", "member", "--data-dir", "data"))
	other := strings.TrimSpace(a.cli("token", "create", "--project", "someone-else", "--role", "member", "--data-dir", "data"))

	waitFor(t, 20*time.Second, "pool queue declared", func() bool { return queueDeclared(url, "altimeter") })
	bodies := notifications(t, 3)
	// Without payload: Ceilometer (and so the listener) still records its
	// event, with the default traits.
	bare, err := json.Marshal(map[string]any{"message_id": "50000000-0000-4000-8000-000000000001", "event_type": "compute.instance.exists",
		"priority": "INFO", "publisher_id": "compute.node-9", "timestamp": time.Now().Add(-time.Minute).UTC().Format("2006-01-02 15:04:05.000000"),
		"_context_project_id": project, "_context_request_id": "req-nopayload"})
	require.NoError(t, err)
	inner, err := json.Marshal(map[string]any{"oslo.version": "2.0", "oslo.message": string(bare)})
	require.NoError(t, err)
	publishAll(t, url, append(bodies, inner))
	c := &client{t: t, base: "http://" + a.api, token: admin}
	waitFor(t, 30*time.Second, "four events stored", func() bool {
		return len(c.list("/v2/events?limit=100")) == 4
	})

	run := func(token string, args ...string) []map[string]any {
		t.Helper()
		return osJSON[[]map[string]any](t, openstackBin, a, token, append([]string{"event"}, args...)...)
	}
	ids := func(rows []map[string]any) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r["message_id"].(string))
		}
		return out
	}
	all := run(tok, "list")
	require.Len(t, all, 4, "the member sees its project's events")
	got := ids(all)
	require.Contains(t, got, "50000000-0000-4000-8000-000000000001", "the event of the notification without payload")

	// Panko's sort, both directions, and paging with the marker.
	asc := ids(run(tok, "list", "--sort", "generated:asc"))
	desc := ids(run(tok, "list", "--sort", "generated:desc"))
	require.Len(t, asc, 4)
	require.Equal(t, asc, reversed(desc))
	page := ids(run(tok, "list", "--sort", "generated:asc", "--limit", "2"))
	require.Equal(t, asc[:2], page)
	page = ids(run(tok, "list", "--sort", "generated:asc", "--limit", "2", "--marker", page[1]))
	require.Equal(t, asc[2:], page)

	// A trait filter, as the client sends it (q.field/q.op/q.value).
	rows := run(tok, "list", "--filter", "event_type=compute.instance.exists", "--filter", "instance_id=40000000-0000-4000-8000-000000000001")
	require.Equal(t, []string{"30000000-0000-4000-8000-000000000001"}, ids(rows))

	// Show: the traits of the fixture, and the default ones of the
	// payload-less event.
	show := osJSON[map[string]any](t, openstackBin, a, tok, append([]string{"event"}, "show", "30000000-0000-4000-8000-000000000002")...)
	require.Equal(t, "compute.instance.exists", show["event_type"])
	require.Contains(t, show["traits"], `"state"`)
	require.Contains(t, show["traits"], `"active"`)
	show = osJSON[map[string]any](t, openstackBin, a, tok, append([]string{"event"}, "show", "50000000-0000-4000-8000-000000000001")...)
	require.Contains(t, show["traits"], `"req-nopayload"`)
	require.NotContains(t, show["traits"], `"state"`)

	types := run(tok, "type", "list")
	require.Equal(t, []map[string]any{{"Event Type": "compute.instance.exists"}}, types)
	desc2 := run(tok, "trait", "description", "compute.instance.exists")
	var names []string
	for _, d := range desc2 {
		names = append(names, d["name"].(string))
	}
	require.Contains(t, names, "state")
	require.Contains(t, names, "instance_id")
	vals := run(tok, "trait", "list", "compute.instance.exists", "state")
	require.Len(t, vals, 3)
	for _, v := range vals {
		require.Equal(t, map[string]any{"name": "state", "value": "active", "type": "string"}, v)
	}
	caps := osJSON[map[string]any](t, openstackBin, a, tok, append([]string{"event"}, "capabilities", "list")...)
	require.Contains(t, fmt.Sprint(caps), "events:query:simple")

	// Another project sees none of it; an admin sees all with
	// Panko's all_tenants switch.
	require.Empty(t, run(other, "list"))
	_, stderr := osClient(t, openstackBin, a, other, true, append([]string{"event"}, "show", "30000000-0000-4000-8000-000000000002")...)
	require.Contains(t, stderr, "404")
	require.Len(t, run(admin, "list", "--filter", "all_tenants=true"), 4)

	// keystoneauth logs the X-OpenStack-Request-Id of each answer.
	_, stderr = osClient(t, openstackBin, a, tok, false, append([]string{"--debug"}, append([]string{"event"}, "type", "list")...)...)
	require.Regexp(t, regexp.MustCompile(`used request id req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), stderr)
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
