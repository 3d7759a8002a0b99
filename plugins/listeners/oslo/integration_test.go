package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/sample"
)

// TestIntegrationNotifications is the acceptance test against a real
// broker: real-format notifications in oslo v2 envelopes (and one bare v1
// body), published to two
// brokers (vhosts) at once, become the expected samples and events at the
// host over real gRPC, with the built-in meter and event definitions;
// undecodable, unmappable (an event definition fails), oversized and
// wrongly signed messages are dead-lettered with their reason and counted,
// a failing meter definition is counted and loses only its sample, and the
// stream goes on.
func TestIntegrationNotifications(t *testing.T) {
	rmq := peer.NeedRabbitMQ(t)
	url1, url2 := peer.VHost(t, rmq), peer.VHost(t, rmq)
	const secret = "s3cret"
	r := startPlugin(t, fmt.Sprintf(`
transport_urls        = [%q, %q]
exchanges             = ["nova", "cinder", "glance", "neutron", "ceilometer"]
pool                  = "altimeter-test"
max_message_bytes     = 4096
telemetry_secret      = %q
store_raw             = ["error"]
drop_unmatched_events = true
batch_timeout         = "50ms"
`, url1, url2, secret), nil)
	o := r.impl.Load()
	pub1, pub2 := newPublisher(t, url1), newPublisher(t, url2)

	fx := fixtures()
	// The good ones, spread over both brokers.
	for i, name := range []string{"create", "exists", "volume", "image", "port", "error"} {
		p := pub1
		if i%2 == 1 {
			p = pub2
		}
		body := fx[name].body(t)
		if name == "image" {
			body = mustJSON(t, fx[name].msg) // a bare v1 body, as before oslo.messaging 1.x's envelope
		}
		p.publish(t, fx[name].exchange, fx[name].key, body)
	}
	// What a Ceilometer polling agent publishes: signed samples with
	// priority sample on the ceilometer exchange.
	polled := osloMessage("m-polled", "telemetry.polling", "SAMPLE", fixtureTime,
		samplesPayload(t, secret, "cpu", 1.5e9, "memory.usage", 512.0))
	polled["publisher_id"] = "ceilometer.polling"
	pub1.publish(t, "ceilometer", "notifications.sample", envelope(t, polled))

	// The bad ones, each on its own.
	bad := map[string][]byte{
		reasonBadJSON:      []byte(`{"oslo.version": "2.0", "oslo.message": "{\"event_type\": \"compute.instance.create.end\", `),
		reasonMissingField: envelope(t, map[string]any{"message_id": "m-notype", "priority": "INFO", "timestamp": "2026-11-22 03:01:30.123456", "payload": map[string]any{}}),
		reasonTooLarge:     envelope(t, osloMessage("m-huge", "compute.instance.exists", "INFO", fixtureTime, map[string]any{"instance_id": "i-huge", "padding": strings.Repeat("x", 5000)})),
	}
	noSize := fx["volume"].msg
	noSize = maps(noSize)
	payload := maps(noSize["payload"].(map[string]any))
	delete(payload, "size")
	payload["volume_id"] = "v-nosize"
	noSize["payload"], noSize["message_id"] = payload, "m-nosize"
	// A meter definition failing (volume.size: no size) loses its sample
	// only: the notification's event is made and it is acked, counted as
	// meter_errors. An event definition failing (created_at is not a time)
	// dead-letters it.
	pub1.publish(t, "cinder", "notifications.info", envelope(t, noSize))
	badDate := maps(noSize)
	payload = maps(payload)
	payload["created_at"], payload["volume_id"] = "someday", "v-baddate"
	badDate["payload"], badDate["message_id"] = payload, "m-baddate"
	bad[reasonMapping] = envelope(t, badDate)
	forged := maps(polled)
	forged["message_id"], forged["payload"] = "m-forged", samplesPayload(t, "not-the-secret", "cpu", 7.0)
	bad[reasonBadSignature] = envelope(t, forged)
	for _, reason := range []string{reasonBadJSON, reasonMissingField, reasonTooLarge, reasonMapping} {
		exchange := "nova"
		if reason == reasonMapping {
			exchange = "cinder"
		}
		pub1.publish(t, exchange, "notifications.info", bad[reason])
	}
	pub2.publish(t, "ceilometer", "notifications.sample", bad[reasonBadSignature])
	// Without payload: not dead-lettered; Ceilometer records its event
	// with the default traits (and makes no sample).
	pub1.publish(t, "nova", "notifications.info", envelope(t, map[string]any{"message_id": "m-nopayload", "event_type": "compute.instance.exists",
		"priority": "INFO", "timestamp": "2026-11-22 03:01:30.123456", "publisher_id": "compute.host9", "_context_project_id": "p-9"}))
	// Matches no meter and, with drop_unmatched_events, no event: acked.
	pub2.publish(t, "nova", "notifications.info", envelope(t, osloMessage("m-unmatched", "dummy.notification", "INFO", fixtureTime, map[string]any{})))
	// And the stream goes on.
	pub1.publish(t, "nova", "notifications.info", existsNotice(t, "i-last"))

	// Ceilometer's default meters and no others (the legacy instance and
	// port meters are off without legacy_meters).
	wantSamples := []string{
		// compute.instance.create.end
		"i-1/disk.ephemeral.size", "i-1/disk.root.size", "i-1/compute.instance.booting.time", "i-1/vcpus", "i-1/memory",
		// compute.instance.exists, twice
		"i-2/disk.ephemeral.size", "i-2/disk.root.size", "i-2/vcpus", "i-2/memory",
		"i-last/disk.ephemeral.size", "i-last/disk.root.size", "i-last/vcpus", "i-last/memory",
		"v-1/volume.size", "img-1/image.size",
		"r-cpu/cpu", "r-memory.usage/memory.usage",
	}
	wantEvents := []string{"compute.instance.create.end", "compute.instance.exists", "compute.instance.exists", "compute.instance.exists",
		"volume.create.end", "volume.create.end", "image.upload", "port.create.end", "compute.instance.create.error"}
	samples, events := r.collect(t, 30*time.Second, func(s []sample.Sample, e []sample.Event) bool {
		return len(s) >= len(wantSamples) && len(e) >= len(wantEvents)
	})
	var gotSamples, gotEvents []string
	byKey := map[string]sample.Sample{}
	for _, s := range samples {
		k := s.ResourceID + "/" + s.Name
		gotSamples = append(gotSamples, k)
		byKey[k] = s
	}
	for _, e := range events {
		gotEvents = append(gotEvents, e.EventType)
	}
	require.ElementsMatch(t, wantSamples, gotSamples)
	require.ElementsMatch(t, wantEvents, gotEvents)

	mem := byKey["i-1/memory"]
	require.Equal(t, sample.Sample{Name: "memory", Type: sample.Gauge, Unit: "MB", Volume: 2048, ResourceID: "i-1",
		ProjectID: "p-1", UserID: "u-1", Timestamp: fixtureTime, Source: mem.Source, MessageID: mem.MessageID, Metadata: mem.Metadata}, mem)
	require.NotEmpty(t, mem.MessageID)
	require.Equal(t, "m1.small", mem.Metadata["flavor_name"])
	require.Equal(t, "compute-01", mem.Metadata["host"])
	require.Equal(t, 10.0, byKey["v-1/volume.size"].Volume)
	require.Equal(t, "GB", byKey["v-1/volume.size"].Unit)
	require.Equal(t, 16338944.0, byKey["img-1/image.size"].Volume)
	cpu := byKey["r-cpu/cpu"]
	require.Equal(t, 1.5e9, cpu.Volume)
	require.Equal(t, "id-cpu", cpu.MessageID)
	require.Equal(t, "h1", cpu.Metadata["host"])

	for _, e := range events {
		require.False(t, e.Generated.IsZero())
		if e.EventType == "compute.instance.create.error" {
			require.Equal(t, "m-error", e.MessageID)
			require.Equal(t, fixtureTime, e.Generated)
			require.Contains(t, string(e.Raw), "NoValidHost", "store_raw keeps error notifications")
			require.Contains(t, traits(e), "state=error")
			require.Contains(t, traits(e), "instance_id=i-3")
		} else {
			require.Empty(t, e.Raw)
		}
		if e.MessageID == "m-nopayload" {
			require.Equal(t, []string{"host=host9", "project_id=p-9", "service=compute"}, traits(e))
		}
	}

	dead := readQueue(t, url1, "altimeter.dead", 4, 10*time.Second)
	dead = append(dead, readQueue(t, url2, "altimeter.dead", 1, 10*time.Second)...)
	gotReasons := map[string]string{}
	for _, d := range dead {
		reason := d.Headers[headerReason].(string)
		gotReasons[reason] = d.Headers[headerError].(string)
		require.Equal(t, string(bad[reason]), string(d.Body), reason)
		require.Equal(t, "altimeter-test", d.Headers[headerQueue])
	}
	require.Len(t, gotReasons, 5)
	require.Contains(t, gotReasons[reasonBadJSON], "decode json")
	require.Contains(t, gotReasons[reasonMissingField], "event_type: missing")
	require.Contains(t, gotReasons[reasonTooLarge], "more than max_message_bytes = 4096")
	require.Contains(t, gotReasons[reasonMapping], "created_at")
	require.Contains(t, gotReasons[reasonBadSignature], "signature does not match")

	waitFor(t, "counters", 5*time.Second, func() bool { return o.stats.notifications.Load() == 10 })
	c := o.Counters()
	for _, reason := range []string{reasonBadJSON, reasonMissingField, reasonTooLarge, reasonMapping, reasonBadSignature} {
		require.Equal(t, uint64(1), c["dead_lettered_"+reason], reason)
	}
	require.Equal(t, uint64(1), c["unmatched"])
	require.Equal(t, uint64(2), c["meter_errors"], "volume.size of m-nosize and m-baddate")
	require.Equal(t, uint64(1), c["without_payload"])
	require.Equal(t, uint64(len(wantSamples)), c["samples_accepted"])
	require.Equal(t, uint64(len(wantEvents)), c["events_accepted"])
	for _, u := range []string{url1, url2} {
		waitFor(t, "queue drained", 5*time.Second, func() bool { return queueLen(t, u, "altimeter-test") == 0 })
	}
}

func traits(e sample.Event) []string {
	var out []string
	for _, tr := range e.Traits {
		v := tr.Text
		switch tr.Type {
		case sample.TraitInt:
			v = fmt.Sprint(tr.Int)
		case sample.TraitFloat:
			v = fmt.Sprint(tr.Float)
		case sample.TraitDatetime:
			v = tr.Datetime.Format(time.RFC3339Nano)
		}
		out = append(out, tr.Name+"="+v)
	}
	slices.Sort(out)
	return out
}

// samplesPayload returns a sample-priority payload: Ceilometer metering
// messages (name, volume pairs) signed with secret.
func samplesPayload(t testing.TB, secret string, nameVolumes ...any) []any {
	t.Helper()
	var out []any
	for i := 0; i+1 < len(nameVolumes); i += 2 {
		m, err := decodeObject([]byte(signedSample(t, secret, nameVolumes[i].(string), nameVolumes[i+1].(float64))))
		require.NoError(t, err)
		out = append(out, m)
	}
	return out
}

// maps returns a shallow copy of m.
func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
