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

const archiveTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
}

listener "oslo" "openstack" {
  transport_urls = ["%s"]
  exchanges      = ["nova", "cinder"]
  pool           = "altimeter"
  batch_size     = 200
  batch_timeout  = "50ms"
  sinks          = ["bus"]
  archive { retention = "1h" }
}

sink "bus" {
  publish "store" {}
}
`

// archived is one notification as /v2/notifications lists it.
type archived struct {
	MessageID  string          `json:"message_id"`
	EventType  string          `json:"event_type"`
	Priority   string          `json:"priority"`
	Host       string          `json:"host"`
	RequestID  string          `json:"request_id"`
	ProjectID  string          `json:"project_id"`
	ResourceID string          `json:"resource_id"`
	Reason     string          `json:"reason"`
	Raw        json.RawMessage `json:"raw"`
}

// osloBody is an oslo v2 envelope of one notification in a request's
// context.
func osloBody(t *testing.T, id, eventType, priority, publisher, project, request string, at time.Time, payload map[string]any) []byte {
	t.Helper()
	inner, err := json.Marshal(map[string]any{
		"message_id": id, "event_type": eventType, "priority": priority, "publisher_id": publisher,
		"timestamp":           at.UTC().Format("2006-01-02 15:04:05.000000"),
		"_context_request_id": request, "_context_project_id": project, "_context_user_id": "u-" + project,
		"payload": payload,
	})
	require.NoError(t, err)
	b, err := json.Marshal(map[string]any{"oslo.version": "2.0", "oslo.message": string(inner)})
	require.NoError(t, err)
	return b
}

func memberToken(t *testing.T, admin *client, project string) *client {
	t.Helper()
	var made struct{ Token string }
	waitFor(t, 20*time.Second, "member token for "+project, func() bool {
		code, b := admin.do("POST", "/v2/tokens", map[string]string{"project": project, "role": "member"})
		return code == http.StatusCreated && json.Unmarshal(b, &made) == nil
	})
	return &client{t: t, base: admin.base, token: made.Token}
}

// TestIntegrationArchive is the archive's user path on a real broker: a
// scripted request (start on nova, a service error on cinder, end on nova)
// appears in time order under /v2/requests/{id}; an error notification the
// mapping makes no sample of is archived with its reason; a member sees
// only its project's; and after a SIGKILL of the agent in the middle of a
// stream every notification is in the archive exactly once.
func TestIntegrationArchive(t *testing.T) {
	skipShort(t)
	r := peer.NeedRabbitMQ(t)
	url := peer.VHost(t, r)
	a := startAgent(t, fmt.Sprintf(archiveTmpl, url))
	admin := &client{t: t, base: "http://" + a.api, token: a.adminToken()}
	// The listener logs "consuming" once its queue is bound to every
	// exchange; a notification published before that (once the queue
	// merely exists) goes nowhere.
	waitFor(t, 20*time.Second, "the listener consuming", func() bool {
		return queueDeclared(url, "altimeter") && strings.Contains(a.log.String(), "consuming:")
	})

	t0 := time.Now().Add(-time.Minute).UTC()
	const req = "req-11111111-2222-4333-8444-555555555555"
	// Published out of order (the error, stamped between start and end,
	// first), across exchanges: the timeline is by timestamp. The end is
	// published once its start is archived: an end archived before its
	// start gets no duration (archive.Durations), which this test once
	// avoided only when the three landed in one listener batch (on a
	// loaded machine they did not).
	publishTo(t, url, "cinder", "notifications.error",
		osloBody(t, "n-err", "volume.attach.error", "ERROR", "volume.cinder-1", "p1", req, t0.Add(2*time.Second),
			map[string]any{"volume_id": "vol-1", "tenant_id": "p1", "message": "iSCSI target not found"}))
	publishTo(t, url, "nova", "notifications.info",
		osloBody(t, "n-start", "compute.instance.create.start", "INFO", "compute.cmp-1", "p1", req, t0.Add(time.Second),
			map[string]any{"instance_id": "vm-1", "tenant_id": "p1", "user_id": "u-p1"}))
	waitFor(t, 30*time.Second, "the start archived", func() bool {
		code, _ := admin.do("GET", "/v2/notifications/n-start", nil)
		return code == http.StatusOK
	})
	publishTo(t, url, "nova", "notifications.info",
		osloBody(t, "n-end", "compute.instance.create.end", "INFO", "compute.cmp-1", "p1", req, t0.Add(3*time.Second),
			map[string]any{"instance_id": "vm-1", "tenant_id": "p1", "user_id": "u-p1", "memory_mb": 512, "state": "active",
				// What the create.end meters read (a real Nova end has them):
				// with one missing the listener dead-letters the delivery.
				"vcpus": 1, "root_gb": 1, "ephemeral_gb": 0,
				"created_at": t0.Format("2006-01-02 15:04:05"), "launched_at": t0.Add(3 * time.Second).Format("2006-01-02 15:04:05")}))
	// Another project's failure, error priority: no meter maps it.
	publishTo(t, url, "nova", "notifications.error",
		osloBody(t, "n-other", "compute.instance.create.error", "ERROR", "compute.cmp-2", "p2", "req-other", t0.Add(4*time.Second),
			map[string]any{"instance_id": "vm-err", "tenant_id": "p2", "user_id": "u-p2", "message": "No valid host was found."}))

	var timeline struct {
		RequestID     string     `json:"request_id"`
		Notifications []archived `json:"notifications"`
	}
	waitFor(t, 30*time.Second, "the request's three notifications archived", func() bool {
		code, b := admin.do("GET", "/v2/requests/"+req, nil)
		return code == 200 && json.Unmarshal(b, &timeline) == nil && len(timeline.Notifications) == 3
	})
	var got []string
	for _, n := range timeline.Notifications {
		got = append(got, n.MessageID+"/"+n.Priority+"/"+n.Host)
		require.Equal(t, "p1", n.ProjectID)
	}
	require.Equal(t, []string{"n-start/info/cmp-1", "n-err/error/cinder-1", "n-end/info/cmp-1"}, got)
	require.Equal(t, "vol-1", timeline.Notifications[1].ResourceID)

	// The error notification is findable by priority, with its raw body and
	// its reason, while the mapping made no sample of it.
	var errs []archived
	waitFor(t, 30*time.Second, "error notifications archived", func() bool {
		code, b := admin.do("GET", "/v2/notifications?priority=error&raw=true", nil)
		return code == 200 && json.Unmarshal(b, &errs) == nil && len(errs) == 2
	})
	require.Equal(t, "n-other", errs[1].MessageID)
	require.Equal(t, "vm-err", errs[1].ResourceID)
	require.Contains(t, string(errs[1].Raw), "No valid host was found.")
	require.Empty(t, admin.list("/v2/samples?q.field=resource_id&q.value=vm-err"), "no sample of an error notification")
	require.NotEmpty(t, admin.list("/v2/samples?q.field=resource_id&q.value=vm-1"), "the info notifications were mapped as before")

	// The create took 2 s by its timestamps: in the timings and as a
	// stored notification.duration sample of the instance.
	waitFor(t, 60*time.Second, "notification.duration stored", func() bool {
		return len(admin.list("/v2/samples?q.field=meter&q.value=notification.duration")) == 1
	})
	dur := admin.list("/v2/samples?q.field=meter&q.value=notification.duration")[0]
	require.Equal(t, "vm-1", dur["resource_id"])
	require.InDelta(t, 2.0, dur["volume"], 1e-6)
	var timings []map[string]any
	code, b := admin.do("GET", "/v2/timings?event_type=compute.instance.create&group_by=host", nil)
	require.Equal(t, 200, code, string(b))
	require.NoError(t, json.Unmarshal(b, &timings))
	require.Len(t, timings, 1)
	require.Equal(t, "cmp-1", timings[0]["group"])
	require.Equal(t, 1.0, timings[0]["count"])
	require.InDelta(t, 2.0, timings[0]["avg"], 1e-6)

	// An instance whose hourly exists periods have a gap is reported by the
	// usage audit.
	hour := time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)
	period := func(id string, h int) []byte {
		b := hour.Add(time.Duration(h) * time.Hour)
		return osloBody(t, id, "compute.instance.exists", "INFO", "compute.cmp-1", "p1", "", b.Add(time.Hour+time.Minute), map[string]any{
			"instance_id": "vm-gap", "tenant_id": "p1", "launched_at": hour.Add(-time.Hour).Format("2006-01-02 15:04:05"),
			"audit_period_beginning": b.Format("2006-01-02 15:04:05"), "audit_period_ending": b.Add(time.Hour).Format("2006-01-02 15:04:05")})
	}
	publishTo(t, url, "nova", "notifications.info", period("ex-0", 0), period("ex-2", 2))
	var audit []struct {
		ResourceID string `json:"resource_id"`
		Missing    []struct{ Start, End time.Time }
	}
	waitFor(t, 30*time.Second, "usage audit reports the gap", func() bool {
		code, b := admin.do("GET", "/v2/audit/usage?start="+hour.Format(time.RFC3339)+"&end="+hour.Add(3*time.Hour).Format(time.RFC3339), nil)
		return code == 200 && json.Unmarshal(b, &audit) == nil && len(audit) == 1
	})
	require.Equal(t, "vm-gap", audit[0].ResourceID)
	require.Len(t, audit[0].Missing, 1)
	require.True(t, audit[0].Missing[0].Start.Equal(hour.Add(time.Hour)), "%v", audit[0].Missing)
	require.True(t, audit[0].Missing[0].End.Equal(hour.Add(2*time.Hour)), "%v", audit[0].Missing)

	// Members see their project only.
	p1, p2 := memberToken(t, admin, "p1"), memberToken(t, admin, "p2")
	code, b = p2.do("GET", "/v2/notifications/n-err", nil)
	require.Equal(t, 404, code, string(b))
	code, b = p2.do("GET", "/v2/requests/"+req, nil)
	require.Equal(t, 404, code, string(b))
	require.Len(t, p2.list("/v2/notifications"), 1) // n-other
	code, b = p1.do("GET", "/v2/notifications/n-err", nil)
	require.Equal(t, 200, code, string(b))
	require.Contains(t, string(b), "iSCSI target not found")

	// SIGKILL in the middle of a stream: once restarted, every notification
	// is archived exactly once.
	const n = 3000
	bulk := make([][]byte, n)
	for i := range bulk {
		bulk[i] = osloBody(t, fmt.Sprintf("bulk-%05d", i), "compute.instance.exists", "INFO", "compute.cmp-3", "p3", "req-bulk",
			t0.Add(time.Duration(i)*time.Millisecond), map[string]any{"instance_id": fmt.Sprintf("vm-b%d", i%50), "tenant_id": "p3"})
	}
	// Preloaded with the agent stopped (as TestIntegrationNotifications
	// does): published while it consumes, the whole stream can be archived
	// before the kill, and the kill would then interrupt nothing.
	a.stop()
	publishAll(t, url, bulk)
	require.Equal(t, n, queueReady(t, url, "altimeter"), "every notification queued")
	a.restart()
	bulkCount := func() int {
		code, b := admin.do("GET", "/v2/requests/req-bulk?limit=10000", nil)
		if code == 404 {
			return 0
		}
		require.Equal(t, 200, code, string(b))
		var rq struct{ Notifications []archived }
		require.NoError(t, json.Unmarshal(b, &rq))
		seen := map[string]bool{}
		for _, x := range rq.Notifications {
			require.False(t, seen[x.MessageID], "%s archived twice", x.MessageID)
			seen[x.MessageID] = true
		}
		return len(rq.Notifications)
	}
	waitFor(t, 60*time.Second, "some of the stream archived", func() bool {
		return sumMetric(a.metrics(), "altimeter_archive_notifications_total") >= 200
	})
	a.pluginPIDs()
	waiting := queueReady(t, url, "altimeter")
	require.NoError(t, a.cmd.Process.Kill())
	require.Positive(t, waiting, "the whole stream consumed before the kill: nothing was in flight")
	before := n - waiting
	a.restart()
	waitFor(t, 120*time.Second, "the whole stream archived", func() bool { return bulkCount() >= n })
	require.Equal(t, n, bulkCount())
	t.Logf("%d of %d consumed (at most) when the agent was SIGKILLed; all %d archived once after the restart", before, n, n)
	// The restarted agent archived what was still queued at the kill.
	require.Positive(t, sumMetric(a.metrics(), "altimeter_archive_notifications_total"))
}
