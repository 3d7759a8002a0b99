package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

const secret = "s3cr3t"

func samples(n int) []sample.Sample {
	ts := time.Date(2026, 12, 7, 10, 0, 0, 123456000, time.UTC)
	out := make([]sample.Sample, n)
	for i := range out {
		out[i] = sample.Sample{
			Name: []string{"cpu", "memory.usage"}[i%2], Type: sample.Gauge, Unit: "%", Volume: float64(i) + 0.5,
			ResourceID: fmt.Sprintf("vm-%d", i), ProjectID: "p1", UserID: "u1", Source: "openstack",
			Timestamp: ts.Add(time.Duration(i) * time.Second), MessageID: fmt.Sprintf("id-%d", i),
			Metadata: map[string]string{"flavor.name": "m1.small"},
		}
	}
	return out
}

// notification is one consumed message, both envelope layers decoded.
type notification struct {
	key     string
	props   amqp.Delivery
	message map[string]any
	payload []map[string]any
}

func consume(t *testing.T, url, queue string, n int) []notification {
	t.Helper()
	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	ds, err := ch.Consume(queue, "", true, false, false, false, nil)
	require.NoError(t, err)
	var out []notification
	for len(out) < n {
		select {
		case d := <-ds:
			var env map[string]string
			require.NoError(t, json.Unmarshal(d.Body, &env))
			require.Equal(t, "2.0", env["oslo.version"])
			var msg map[string]any
			dec := json.NewDecoder(strings.NewReader(env["oslo.message"]))
			dec.UseNumber()
			require.NoError(t, dec.Decode(&msg))
			var nt notification
			nt.key, nt.props, nt.message = d.RoutingKey, d, msg
			for _, p := range msg["payload"].([]any) {
				nt.payload = append(nt.payload, p.(map[string]any))
			}
			out = append(out, nt)
		case <-time.After(10 * time.Second):
			t.Fatalf("got %d of %d notifications", len(out), n)
		}
	}
	return out
}

// TestIntegrationRabbitMQ publishes to the real broker before anyone
// consumes (the queue the publisher declares keeps the notifications, as
// oslo.messaging's does), then consumes and decodes them: the envelope,
// event_type metering, priority SAMPLE, signed samples that verify.
func TestIntegrationRabbitMQ(t *testing.T) {
	rmq := peer.NeedRabbitMQ(t)
	t.Parallel()
	url := peer.VHost(t, rmq)
	sf := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(sf, []byte(secret), 0o600))
	c := sdktest.Publisher(t, spec(), fmt.Sprintf("transport_url = %q\ntelemetry_secret_file = %q\nbatch_size = 4\nper_meter_topic = true\npublisher_id = \"telemetry.publisher.test\"\n", url, sf))
	in := samples(10)
	res, err := c.Publish(context.Background(), &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Equal(t, base.Accepted, res.Outcome, res.Reason)

	got := consume(t, url, "metering.sample", 3) // 10 samples, 4 per notification
	var all []map[string]any
	for _, n := range got {
		require.Equal(t, "metering.sample", n.key)
		require.Equal(t, "application/json", n.props.ContentType)
		require.Equal(t, "utf-8", n.props.ContentEncoding)
		require.Equal(t, "metering", n.message["event_type"])
		require.Equal(t, "SAMPLE", n.message["priority"])
		require.Equal(t, "telemetry.publisher.test", n.message["publisher_id"])
		_, err := time.Parse("2006-01-02 15:04:05.000000", n.message["timestamp"].(string))
		require.NoError(t, err)
		require.LessOrEqual(t, len(n.payload), 4)
		all = append(all, n.payload...)
	}
	require.Len(t, all, 10)
	for i, m := range all {
		require.True(t, sample.VerifySignature(m, secret), "sample %d", i)
		s, err := sample.FromCeilometer(m)
		require.NoError(t, err)
		s.Signature = ""
		require.Equal(t, in[i], s)
	}
	// per_meter_topic: each meter's samples on <topic>.<meter>.sample too.
	cpu := consume(t, url, "metering.cpu.sample", 2)
	require.Len(t, cpu[0].payload, 4)
	require.Equal(t, "cpu", cpu[0].payload[0]["counter_name"])
}

// TestBrokerDown: no broker answers; the batch is retried, never rejected.
func TestBrokerDown(t *testing.T) {
	t.Parallel()
	c := sdktest.Publisher(t, spec(), "transport_url = \"amqp://guest:guest@127.0.0.1:1/\"\ntimeout = \"1s\"\n")
	res, err := c.Publish(context.Background(), &sample.Batch{Samples: samples(2)})
	require.NoError(t, err)
	require.Equal(t, base.Retry, res.Outcome, res.Reason)
	require.Contains(t, res.Reason, "amqp://127.0.0.1:1/", "the broker is named without credentials")
	require.NotContains(t, res.Reason, "guest:guest")
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		`transport_url = "http://127.0.0.1:5672/"`,
		`batch_size = 0`,
		`timeout = "forever"`,
		`exchange = ""`,
		`telemetry_secret_env = "ALTIMETER_TEST_UNSET_SECRET"`,
	} {
		p := sdktest.Start(t, spec().Info(), spec().Register())
		require.True(t, p.Configure(t, bad).HasErrors(), bad)
	}
}

func TestExample(t *testing.T) {
	t.Setenv("ALTIMETER_TELEMETRY_SECRET", secret)
	sp := spec()
	sdktest.CheckExample(t, "example.hcl", sp.Info(), sp.Register())
}

// TestIntegrationOsloListener has oslo.messaging (Debian's, under
// /usr/bin/python3) consume the notifications as Ceilometer's notification
// agent does, and Ceilometer's verify_signature check every sample.
func TestIntegrationOsloListener(t *testing.T) {
	rmq := peer.NeedRabbitMQ(t)
	t.Parallel()
	url := peer.VHost(t, rmq)
	const n = 12
	cmd := exec.CommandContext(t.Context(), "/usr/bin/python3", "testdata/listen.py", url, strconv.Itoa(n), secret)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	require.True(t, sc.Scan(), "listener did not start (python3-ceilometer installed? make peers)")
	require.Equal(t, "ready", sc.Text())

	sf := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(sf, []byte(secret), 0o600))
	c := sdktest.Publisher(t, spec(), fmt.Sprintf("transport_url = %q\ntelemetry_secret_file = %q\nbatch_size = 5\n", url, sf))
	in := samples(n)
	res, err := c.Publish(context.Background(), &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Equal(t, base.Accepted, res.Outcome, res.Reason)
	// oslo.messaging's listener may hand the notifications (one per batch
	// of 5) to its executor out of order: compare the ids as a set.
	want := map[string]bool{}
	for i := range in {
		want[in[i].MessageID] = true
	}
	seen := map[string]bool{}
	for i := range n {
		require.True(t, sc.Scan(), "sample %d: %v", i, sc.Err())
		var got struct {
			Sample    map[string]any `json:"sample"`
			Verified  bool           `json:"verified"`
			EventType string         `json:"event_type"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &got))
		require.True(t, got.Verified, sc.Text())
		require.Equal(t, "metering", got.EventType)
		id, _ := got.Sample["message_id"].(string)
		require.True(t, want[id], "unexpected sample %q", id)
		require.False(t, seen[id], "sample %q twice", id)
		seen[id] = true
	}
	require.Len(t, seen, n)
}
