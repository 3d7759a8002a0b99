package main

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// envelope wraps msg in oslo.messaging's v2 envelope.
func envelope(t testing.TB, msg map[string]any) []byte {
	t.Helper()
	inner, err := json.Marshal(msg)
	require.NoError(t, err)
	out, err := json.Marshal(map[string]any{"oslo.version": "2.0", "oslo.message": string(inner)})
	require.NoError(t, err)
	return out
}

func TestDecodeNotice(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	msg := map[string]any{
		"message_id": "m-1", "publisher_id": "compute.host1", "event_type": "compute.instance.create.end",
		"priority": "INFO", "timestamp": "2026-11-22 03:01:30.123456", "payload": map[string]any{"instance_id": "i-1"},
		"_context_user_id": "u-1",
	}
	bare, err := json.Marshal(msg)
	require.NoError(t, err)
	tests := []struct {
		name     string
		body     []byte
		fallback string
		reason   string // expected decodeError reason; "" for success
		check    func(t *testing.T, n *notice)
	}{
		{name: "v2 envelope", body: envelope(t, msg), check: func(t *testing.T, n *notice) {
			require.Equal(t, "m-1", n.MessageID)
			require.Equal(t, "compute.host1", n.PublisherID)
			require.Equal(t, "compute.instance.create.end", n.EventType)
			require.Equal(t, "info", n.Priority)
			require.Equal(t, time.Date(2026, 11, 22, 3, 1, 30, 123456000, time.UTC), n.Timestamp)
			require.Equal(t, map[string]any{"instance_id": "i-1"}, n.Payload)
			require.Equal(t, "u-1", n.Raw["_context_user_id"])
			require.JSONEq(t, string(bare), string(n.RawJSON))
		}},
		{name: "bare v1 body", body: bare, check: func(t *testing.T, n *notice) {
			require.Equal(t, "m-1", n.MessageID)
			require.Equal(t, time.Date(2026, 11, 22, 3, 1, 30, 123456000, time.UTC), n.Timestamp)
		}},
		{name: "defaults: priority from routing key, derived id, now", fallback: "error",
			body: []byte(`{"event_type":"x.y","payload":{}}`), check: func(t *testing.T, n *notice) {
				require.Equal(t, "error", n.Priority)
				require.Equal(t, now, n.Timestamp)
				require.Regexp(t, `^sha256-[0-9a-f]{32}$`, n.MessageID)
				again, err := decodeNotice([]byte(`{"event_type":"x.y","payload":{}}`), "error", now)
				require.NoError(t, err)
				require.Equal(t, n.MessageID, again.MessageID)
			}},
		{name: "iso timestamp", body: []byte(`{"event_type":"x","payload":1,"timestamp":"2026-11-22T03:01:30Z"}`), check: func(t *testing.T, n *notice) {
			require.Equal(t, time.Date(2026, 11, 22, 3, 1, 30, 0, time.UTC), n.Timestamp)
			require.Equal(t, json.Number("1"), n.Payload)
		}},
		{name: "not json", body: []byte(`{"event_type":`), reason: reasonBadJSON},
		{name: "trailing data", body: []byte(`{"event_type":"x","payload":1} {}`), reason: reasonBadJSON},
		{name: "not an object", body: []byte(`[1,2]`), reason: reasonBadEnvelope},
		{name: "inner not json", body: []byte(`{"oslo.version":"2.0","oslo.message":"{nope"}`), reason: reasonBadJSON},
		{name: "inner not a string", body: []byte(`{"oslo.version":"2.0","oslo.message":{"event_type":"x"}}`), reason: reasonBadEnvelope},
		{name: "version not a string", body: []byte(`{"oslo.version":2,"oslo.message":"{}"}`), reason: reasonBadEnvelope},
		{name: "no payload is null, as oslo.messaging reads it", body: []byte(`{"event_type":"x"}`), check: func(t *testing.T, n *notice) {
			require.Nil(t, n.Payload)
			require.Equal(t, "x", n.EventType)
		}},
		{name: "no event_type", body: []byte(`{"payload":{}}`), reason: reasonMissingField},
		{name: "event_type not a string", body: []byte(`{"event_type":1,"payload":{}}`), reason: reasonBadField},
		{name: "bad timestamp", body: []byte(`{"event_type":"x","payload":{},"timestamp":"yesterday"}`), reason: reasonBadField},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fb := tc.fallback
			if fb == "" {
				fb = "info"
			}
			n, err := decodeNotice(tc.body, fb, now)
			if tc.reason != "" {
				var de *decodeError
				require.True(t, errors.As(err, &de), "error %v", err)
				require.Equal(t, tc.reason, de.reason, de.Error())
				return
			}
			require.NoError(t, err)
			tc.check(t, n)
		})
	}
}

func TestCeilometerSamples(t *testing.T) {
	t.Parallel()
	const secret = "s3cret"
	good := signedSample(t, secret, "cpu", 1)
	tests := []struct {
		name    string
		payload string
		secret  string
		want    []string
		reason  string
	}{
		{name: "signed", payload: "[" + good + "," + signedSample(t, secret, "memory", 2) + "]", secret: secret, want: []string{"cpu", "memory"}},
		{name: "no secret, unsigned", payload: `[{"counter_name":"a","counter_type":"gauge","counter_unit":"B","counter_volume":1,"resource_id":"r"}]`, want: []string{"a"}},
		{name: "wrong secret", payload: "[" + signedSample(t, "other", "cpu", 1) + "]", secret: secret, reason: reasonBadSignature},
		{name: "not a list", payload: `{"a":1}`, reason: reasonBadSample},
		{name: "not objects", payload: `[1]`, reason: reasonBadSample},
		{name: "bad sample", payload: `[{"counter_name":"a"}]`, reason: reasonBadSample},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := decodeObject([]byte(`{"p":` + tc.payload + `}`))
			require.NoError(t, err)
			got, err := ceilometerSamples(m["p"], tc.secret)
			if tc.reason != "" {
				var de *decodeError
				require.True(t, errors.As(err, &de), "error %v", err)
				require.Equal(t, tc.reason, de.reason)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			require.Equal(t, tc.want, names)
		})
	}
}

// signedSample returns one Ceilometer metering message as JSON, signed with
// secret.
func signedSample(t testing.TB, secret, name string, vol float64) string {
	t.Helper()
	s := sample.Sample{Name: name, Type: sample.Gauge, Unit: "B", Volume: vol, ResourceID: "r-" + name,
		MessageID: "id-" + name, Timestamp: time.Date(2026, 11, 22, 3, 4, 5, 0, time.UTC), Source: "openstack",
		Metadata: map[string]string{"host": "h1"}}
	m := sample.ToCeilometer(&s)
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	back, err := decodeObject(raw)
	require.NoError(t, err)
	back[sample.CeilometerSignature] = sample.ComputeSignature(back, secret)
	out, err := json.Marshal(back)
	require.NoError(t, err)
	return string(out)
}

func TestPriorityOf(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"notifications.info": "info", "notifications.error": "error", "metering.sample": "sample",
		"notifications": "info", "x.bogus": "info", "a.b.critical": "critical",
	} {
		require.Equal(t, want, priorityOf(key), key)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   string
		wants []string // substrings of the diagnostics; none: valid
	}{
		{name: "defaults", src: ``},
		{name: "full", src: `
transport_urls = ["amqp://u:p@127.0.0.1:5672/", "amqps://u:p@10.0.0.1:5671/vh"]
exchanges = ["nova"]
topics = ["notifications", "metering"]
priorities = ["info", "sample"]
pool = "altimeter"
durable = true
store_raw = ["error"]
telemetry_secret = "x"
`},
		{name: "bad url keeps the password out", src: `transport_urls = ["http://user:hunter2@host/"]`, wants: []string{"transport_urls", "entry 0"}},
		{name: "empty lists", src: "transport_urls = []\nexchanges = []\ntopics = []\npriorities = []",
			wants: []string{"transport_urls", "exchanges", "topics", "priorities"}},
		{name: "bad names", src: "exchanges = [\"no spaces\"]\npriorities = [\"loud\"]\nstore_raw = [\"x\"]\npool = \"a b\"",
			wants: []string{"exchanges", "priorities", "store_raw", "pool"}},
		{name: "bad numbers and durations", src: "batch_size = 0\nprefetch = 0\nmax_in_flight = 100\nmax_message_bytes = 1\nbatch_timeout = \"soon\"\nretry_delay = \"-1s\"\nreconnect_delay = \"10s\"\nreconnect_max_delay = \"1s\"",
			wants: []string{"batch_size", "prefetch", "max_in_flight", "max_message_bytes", "batch_timeout", "retry_delay", "reconnect_max_delay"}},
		{name: "two secrets", src: "telemetry_secret = \"a\"\ntelemetry_secret_env = \"B\"", wants: []string{"at most one"}},
		{name: "empty secret env", src: `telemetry_secret_env = "ALTIMETER_OSLO_TEST_UNSET_SECRET"`, wants: []string{"ALTIMETER_OSLO_TEST_UNSET_SECRET"}},
		{name: "missing secret file", src: `telemetry_secret_file = "/nonexistent/secret"`, wants: []string{"telemetry_secret_file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp := spec()
			p := sdktest.Start(t, sp.Info(), sp.Register())
			diags := p.Configure(t, tc.src)
			if len(tc.wants) == 0 {
				require.False(t, diags.HasErrors(), diags.Error())
				return
			}
			require.True(t, diags.HasErrors())
			text := sdktest.Text(diags)
			require.NotContains(t, text, "hunter2")
			for _, w := range tc.wants {
				require.Contains(t, text, w)
			}
		})
	}
}

func TestExample(t *testing.T) {
	sp := spec()
	sdktest.CheckExample(t, "example.hcl", sp.Info(), sp.Register())
}
