package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
)

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"14d": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute} {
		got, err := parseRetention(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "d", "-1d", "1x", "14dd", "1d-"} {
		_, err := parseRetention(in)
		require.Error(t, err, in)
	}
	c := defaultConfig()
	c.Archive = &archiveBlock{Retention: "30s"}
	_, err := validate(c)
	require.ErrorContains(t, err, "archive.retention")
	c.Archive = &archiveBlock{}
	s, err := validate(c)
	require.NoError(t, err)
	require.Equal(t, defaultRetention, s.retention)
}

// TestIntegrationArchiveNotes: with an archive block, every decodable
// notification reaches the host raw with its envelope fields, in the batch
// of its delivery: mapped ones, unmatched ones (not acked before the host
// has them) and error-priority ones; a failing meter definition is archived
// with its reason (and acked), a failing event definition with its reason
// and dead-lettered too.
func TestIntegrationArchiveNotes(t *testing.T) {
	rmq := peer.NeedRabbitMQ(t)
	url := peer.VHost(t, rmq)
	r := startPlugin(t, fmt.Sprintf(`
transport_urls = [%q]
exchanges      = ["nova", "cinder"]
pool           = "altimeter-archive"
batch_timeout  = "50ms"
drop_unmatched_events = true
archive { retention = "2h" }
`, url), nil)
	pub := newPublisher(t, url)
	fx := fixtures()
	msg := fx["create"].msg
	msg["_context_request_id"] = "req-1"
	pub.publish(t, "nova", "notifications.info", envelope(t, msg))
	pub.publish(t, "nova", "notifications.error", fx["error"].body(t))
	pub.publish(t, "nova", "notifications.info", envelope(t, osloMessage("m-unmatched", "dummy.notification", "INFO", fixtureTime, map[string]any{"id": "x-1"})))
	noSize := maps(fx["volume"].msg)
	payload := maps(noSize["payload"].(map[string]any))
	delete(payload, "size")
	noSize["payload"], noSize["message_id"] = payload, "m-nosize"
	pub.publish(t, "cinder", "notifications.info", envelope(t, noSize))
	badDate := maps(noSize)
	payload = maps(payload)
	payload["created_at"] = "someday"
	badDate["payload"], badDate["message_id"] = payload, "m-baddate"
	pub.publish(t, "cinder", "notifications.info", envelope(t, badDate))

	notes := map[string]sample.Notification{}
	deadline := time.Now().Add(30 * time.Second)
	for len(notes) < 5 {
		g := r.recv(t, time.Until(deadline))
		for _, n := range g.batch.Notifications {
			notes[n.MessageID] = n
		}
		require.NoError(t, r.stream.Ack(g.id, base.Accepted, ""))
	}
	create := notes["m-create"]
	require.Equal(t, "compute.instance.create.end", create.EventType)
	require.Equal(t, "info", create.Priority)
	require.Equal(t, "req-1", create.RequestID)
	require.Equal(t, "i-1", create.ResourceID)
	require.Equal(t, "p-1", create.ProjectID)
	require.Empty(t, create.Reason)
	require.Contains(t, string(create.Raw), `"m-create"`)
	require.WithinDuration(t, time.Now().Add(2*time.Hour), create.Expires, time.Minute)
	require.Equal(t, "error", notes["m-error"].Priority)
	require.Equal(t, "i-3", notes["m-error"].ResourceID)
	require.Equal(t, reasonUnmatched, notes["m-unmatched"].Reason)
	require.Equal(t, "x-1", notes["m-unmatched"].ResourceID)
	// A failing meter definition is archived with its reason, and acked.
	require.Contains(t, notes["m-nosize"].Reason, reasonMeterError+": ")
	require.Contains(t, notes["m-nosize"].Reason, "volume.size")
	// A failing event definition is dead-lettered as well, once archived.
	require.Contains(t, notes["m-baddate"].Reason, reasonMapping+": ")
	dead := readQueue(t, url, "altimeter.dead", 1, 10*time.Second)
	require.Equal(t, reasonMapping, dead[0].Headers[headerReason])
	require.Contains(t, string(dead[0].Body), "m-baddate")
	ids := []string{}
	for id := range notes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	require.Equal(t, []string{"m-baddate", "m-create", "m-error", "m-nosize", "m-unmatched"}, ids)
}
