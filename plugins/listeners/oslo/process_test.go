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
// emits the event and marks the delivery for the dead-letter exchange.
func TestProcessPartial(t *testing.T) {
	s, err := validate(defaultConfig())
	require.NoError(t, err)
	o := newWithMapper(s, partialMapper{}, sdktest.Logger(t))
	body := envelope(t, osloMessage("m-5", "ev.partial", "INFO", fixtureTime, map[string]any{}))
	u := o.process(context.Background(), &delivery{acker: &fakeAcker{}, tag: 1, body: body, routingKey: "notifications.info"}, o.log)
	require.NotNil(t, u)
	require.Len(t, u.events, 1)
	require.NotNil(t, u.dead)
	require.Equal(t, reasonMapping, u.dead.reason)
	require.Contains(t, u.dead.detail, "volume: matched nothing")
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
