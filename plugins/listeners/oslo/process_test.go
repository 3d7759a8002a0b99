package main

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/notification"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// fakeAcker records how deliveries were settled.
type fakeAcker struct{ acked, nacked []uint64 }

func (a *fakeAcker) Ack(tag uint64, _ bool) error { a.acked = append(a.acked, tag); return nil }
func (a *fakeAcker) Nack(tag uint64, _, _ bool) error {
	a.nacked = append(a.nacked, tag)
	return nil
}
func (a *fakeAcker) Reject(tag uint64, _ bool) error { return a.Nack(tag, false, false) }

// fakeMapper makes one sample of info notifications with an "id" in the
// payload, an event of every notification whose event type starts with
// "ev.", and fails on "fail.*".
type fakeMapper struct{}

func (fakeMapper) Samples(n *notification.Notification) ([]sample.Sample, error) {
	if n.EventType == "fail.meter" {
		return nil, &notification.MappingError{Definition: `meter "x"`, Field: "volume", Reason: "matched nothing"}
	}
	p, _ := n.Payload.(map[string]any)
	if id, ok := p["id"].(string); ok && n.NormalizedPriority() == "info" {
		return []sample.Sample{{Name: "x", ResourceID: id, MessageID: "s-" + id}}, nil
	}
	return nil, notification.ErrNoMatch
}

func (fakeMapper) Event(n *notification.Notification) (sample.Event, bool, error) {
	if len(n.EventType) > 3 && n.EventType[:3] == "ev." {
		return sample.Event{EventType: n.EventType, MessageID: n.MessageID}, true, nil
	}
	return sample.Event{}, false, nil
}

// TestProcess covers what process decides without a broker: what is
// emitted, what is acked as unmatched, and what is marked for the
// dead-letter exchange after emitting.
func TestProcess(t *testing.T) {
	s, err := validate(defaultConfig())
	require.NoError(t, err)
	o := newWithMapper(s, fakeMapper{}, sdktest.Logger(t))
	polled := osloMessage("m-p", "telemetry.polling", "SAMPLE", fixtureTime, []any{
		map[string]any{"counter_name": "cpu", "counter_type": "cumulative", "counter_unit": "ns", "counter_volume": 1, "resource_id": "r"},
	})
	tests := []struct {
		name      string
		key       string
		body      []byte
		unmatched bool
		check     func(t *testing.T, u *unit)
	}{
		{name: "samples without time or id get the notification's", key: "notifications.sample", body: envelope(t, polled),
			check: func(t *testing.T, u *unit) {
				require.Len(t, u.samples, 1)
				require.Equal(t, fixtureTime, u.samples[0].Timestamp)
				require.Equal(t, notification.DerivedID("m-p", "0"), u.samples[0].MessageID)
				require.Nil(t, u.dead)
			}},
		{name: "meter and event", key: "notifications.info",
			body: envelope(t, osloMessage("m-1", "ev.x", "INFO", fixtureTime, map[string]any{"id": "r1"})),
			check: func(t *testing.T, u *unit) {
				require.Equal(t, "m-1", u.key)
				require.Equal(t, []string{"r1"}, resources(u.samples))
				require.Len(t, u.events, 1)
			}},
		{name: "event only", key: "notifications.error",
			body: envelope(t, osloMessage("m-2", "ev.y", "ERROR", fixtureTime, map[string]any{"id": "r1"})),
			check: func(t *testing.T, u *unit) {
				require.Empty(t, u.samples)
				require.Len(t, u.events, 1)
			}},
		{name: "matches nothing: acked as unmatched", key: "notifications.info",
			body: envelope(t, osloMessage("m-4", "other", "INFO", fixtureTime, map[string]any{})), unmatched: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acker := &fakeAcker{}
			before := o.stats.unmatched.Load()
			u := o.process(context.Background(), &delivery{acker: acker, tag: 7, body: tc.body, routingKey: tc.key}, o.log)
			if tc.unmatched {
				require.Nil(t, u)
				require.Equal(t, []uint64{7}, acker.acked)
				require.Equal(t, before+1, o.stats.unmatched.Load())
				return
			}
			require.NotNil(t, u)
			require.Empty(t, acker.acked)
			tc.check(t, u)
		})
	}
}

// TestProcessPartial: a failing meter definition next to a good event
// emits the event and leaves the delivery to be acked (not dead-lettered),
// counting the failure as meter_errors.
func TestProcessPartial(t *testing.T) {
	s, err := validate(defaultConfig())
	require.NoError(t, err)
	o := newWithMapper(s, partialMapper{}, sdktest.Logger(t))
	body := envelope(t, osloMessage("m-5", "ev.partial", "INFO", fixtureTime, map[string]any{}))
	acker := &fakeAcker{}
	u := o.process(context.Background(), &delivery{acker: acker, tag: 1, body: body, routingKey: "notifications.info"}, o.log)
	require.NotNil(t, u)
	require.Len(t, u.events, 1)
	require.Nil(t, u.dead)
	require.Empty(t, acker.acked, "acked once the host has the event")
	require.Equal(t, uint64(1), o.Counters()["meter_errors"])
	require.Zero(t, o.deadTotal())
}

// TestProcessMeterErrors runs Ceilometer's definitions on notifications
// that one or more meter definitions fail on. Ceilometer's notification
// agent (ceilometer/meter/notifications.py, pipeline/sample.py) loses the
// failing definition's sample only, for the cases it survives: no volume
// (None) and a volume that is not a number are dropped by the sample
// pipeline with a warning, lookup lists of different lengths with a
// warning; the other definitions' samples and the event (a separate
// endpoint) are made. Where Ceilometer raises instead (a bad timestamp or
// type: the whole notification requeued, forever) or makes a sample no
// publisher can store (no resource_id), the listener does the same as for
// a missing volume. Each failure counts one meter_errors; the notification
// is acked. A failing event definition still dead-letters it (reason
// mapping), with the samples emitted first.
func TestProcessMeterErrors(t *testing.T) {
	all := []string{"disk.ephemeral.size", "disk.root.size", "vcpus", "memory"}
	tests := []struct {
		name        string
		eventType   string
		mutate      func(p map[string]any)
		noEvents    bool // store_events = false
		wantMeters  []string
		wantErrors  uint64
		wantEvent   bool
		wantDead    bool // dead-lettered after emitting (event definition failed)
		wantSettled bool // acked in process: nothing to emit
	}{
		{name: "no volume (None)", mutate: func(p map[string]any) { delete(p, "vcpus") },
			wantMeters: []string{"disk.ephemeral.size", "disk.root.size", "memory"}, wantErrors: 1, wantEvent: true},
		{name: "null volume", mutate: func(p map[string]any) { p["vcpus"] = nil },
			wantMeters: []string{"disk.ephemeral.size", "disk.root.size", "memory"}, wantErrors: 1, wantEvent: true},
		// root_gb is an int trait as well: without events here.
		{name: "volume not a number", mutate: func(p map[string]any) { p["root_gb"] = "twenty" }, noEvents: true,
			wantMeters: []string{"disk.ephemeral.size", "vcpus", "memory"}, wantErrors: 1},
		{name: "no resource_id: every meter fails, the event is made",
			mutate: func(p map[string]any) { delete(p, "instance_id") }, wantErrors: 4, wantEvent: true},
		{name: "event definition fails too: dead-lettered after emitting",
			mutate:     func(p map[string]any) { p["memory_mb"] = "lots" },
			wantMeters: []string{"disk.ephemeral.size", "disk.root.size", "vcpus"}, wantErrors: 1, wantDead: true},
		{name: "only failing meters, no event: acked, not unmatched", eventType: "volume.create.end", noEvents: true,
			mutate: func(p map[string]any) { p["size"] = "big"; p["volume_id"] = "v-1" }, wantErrors: 1, wantSettled: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultConfig()
			c.StoreEvents = !tc.noEvents
			s, err := validate(c)
			require.NoError(t, err)
			m, err := loadMapper(s)
			require.NoError(t, err)
			o := newWithMapper(s, m, sdktest.Logger(t))
			eventType := tc.eventType
			if eventType == "" {
				eventType = "compute.instance.exists"
			}
			p := instancePayload("i-9")
			tc.mutate(p)
			acker := &fakeAcker{}
			body := envelope(t, osloMessage("m-9", eventType, "INFO", fixtureTime, p))
			u := o.process(context.Background(), &delivery{acker: acker, tag: 3, body: body, routingKey: "notifications.info"}, o.log)
			require.Equal(t, tc.wantErrors, o.Counters()["meter_errors"])
			require.Zero(t, o.Counters()["unmatched"])
			require.Zero(t, o.deadTotal())
			if tc.wantSettled {
				require.Nil(t, u)
				require.Equal(t, []uint64{3}, acker.acked)
				return
			}
			require.NotNil(t, u)
			require.Empty(t, acker.acked)
			var got []string
			for _, s := range u.samples {
				got = append(got, s.Name)
			}
			require.ElementsMatch(t, tc.wantMeters, got, "of %v", all)
			require.Equal(t, tc.wantEvent, len(u.events) == 1)
			if tc.wantDead {
				require.NotNil(t, u.dead)
				require.Equal(t, reasonMapping, u.dead.reason)
				require.Contains(t, u.dead.detail, "memory_mb")
				return
			}
			require.Nil(t, u.dead)
		})
	}
}

type partialMapper struct{ fakeMapper }

func (partialMapper) Samples(*notification.Notification) ([]sample.Sample, error) {
	return nil, errors.Join(&notification.MappingError{Definition: `meter "x"`, Field: "volume", Reason: "matched nothing"})
}

// TestProcessWithoutPayload: a notification without payload (absent or
// null) is not dead-lettered: with the built-in definitions it makes the
// event Ceilometer records (the default traits), no sample, and is
// counted as without_payload; a meter definition that matches its event
// type but finds nothing does not dead-letter it.
func TestProcessWithoutPayload(t *testing.T) {
	s, err := validate(defaultConfig())
	require.NoError(t, err)
	m, err := loadMapper(s)
	require.NoError(t, err)
	o := newWithMapper(s, m, sdktest.Logger(t))
	absent := osloMessage("m-np", "compute.instance.delete.end", "INFO", fixtureTime, nil)
	delete(absent, "payload")
	for i, body := range [][]byte{
		envelope(t, absent),
		envelope(t, osloMessage("m-null", "compute.instance.delete.end", "INFO", fixtureTime, nil)),
	} {
		id := []string{"m-np", "m-null"}[i]
		acker := &fakeAcker{}
		u := o.process(context.Background(), &delivery{acker: acker, tag: 9, body: body, routingKey: "notifications.info"}, o.log)
		require.NotNil(t, u, "not dead-lettered")
		require.Nil(t, u.dead)
		require.Empty(t, acker.acked)
		require.Empty(t, acker.nacked)
		require.Empty(t, u.samples)
		require.Len(t, u.events, 1)
		ev := u.events[0]
		require.Equal(t, "compute.instance.delete.end", ev.EventType)
		traits := map[string]any{}
		for _, tr := range ev.Traits {
			traits[tr.Name] = tr.Text
		}
		// The traits that do not read the payload: the default ones, and
		// host from publisher_id.
		require.Equal(t, map[string]any{"service": "compute", "host": "host1", "project_id": "p-ctx", "request_id": "req-" + id}, traits)
		require.Equal(t, uint64(i+1), o.Counters()["without_payload"])
	}
	require.Zero(t, o.deadTotal())
}
