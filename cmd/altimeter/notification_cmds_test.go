package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/api"
	"github.com/altimeter/altimeter/host/archive"
	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/sdk/sample"
)

func TestNotificationCommandsAgainstTheAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := archive.Open(ctx, dir+"/archive.db", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	n := func(id, typ, prio, host, project string, sec int) sample.Notification {
		return sample.Notification{MessageID: id, EventType: typ, Priority: prio, PublisherID: "compute." + host, Timestamp: at.Add(time.Duration(sec) * time.Second),
			RequestID: "req-1", ProjectID: project, ResourceID: "vm-1", Raw: []byte(`{"payload":{"state":"` + id + `"}}`)}
	}
	require.NoError(t, db.Put(ctx, []sample.Notification{
		n("m-start", "compute.instance.create.start", "info", "cmp-1", "p-a", 0),
		n("m-err", "volume.attach.error", "error", "cinder-1", "p-a", 1),
		n("m-end", "compute.instance.create.end", "info", "cmp-1", "p-a", 3),
		n("m-b", "compute.instance.delete.start", "info", "cmp-2", "p-b", 4),
	}))
	tokens, err := auth.Open(dir+"/data", hclog.NewNullLogger())
	require.NoError(t, err)
	member, _, err := tokens.Create(ctx, "p-b", auth.RoleMember)
	require.NoError(t, err)
	srv := httptest.NewServer(api.New(api.Options{Notifications: db, Auth: tokens}).Handler())
	t.Cleanup(srv.Close)
	cli := func(args ...string) (string, string, int) {
		return runCLI(append(args, "--url", srv.URL, "--data-dir", dir+"/data")...)
	}

	out, errOut, code := cli("notification", "list", "-p", "error")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "volume.attach.error")
	require.Equal(t, 2, strings.Count(out, "\n"), out)

	out, errOut, code = cli("notification", "show", "m-err")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "host          cinder-1")
	require.Contains(t, out, `"state": "m-err"`)

	out, errOut, code = cli("request", "show", "req-1")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5)
	for i, id := range []string{"m-start", "m-err", "m-end", "m-b"} {
		require.Contains(t, lines[i+1], id)
	}

	out, errOut, code = cli("timings", "-e", "compute.instance.create", "--group-by", "host")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "cmp-1")
	require.Regexp(t, `cmp-1\s+1\s+0\s+0\s+3\s+3`, out)

	out, errOut, code = cli("notification", "watch", "--since", "2h", "-n", "2", "-e", "compute.instance.create.*", "--interval", "100ms")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "m-start")
	require.Contains(t, out, "m-end")
	require.NotContains(t, out, "m-err")

	// A member sees its project only.
	out, errOut, code = runCLI("notification", "list", "--url", srv.URL, "--token", member)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "m-b")
	require.NotContains(t, out, "m-start")
	_, errOut, code = runCLI("notification", "show", "m-err", "--url", srv.URL, "--token", member)
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "404")

	_, errOut, code = cli("timings")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "--event-type")
	_, errOut, code = cli("notification", "list", "-l", "5000")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "limit")
}
