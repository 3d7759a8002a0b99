package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

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
			Name: "cpu_util", Type: sample.Gauge, Unit: "%", Volume: float64(i) + 0.5,
			ResourceID: fmt.Sprintf("vm-%d", i), ProjectID: "p1", UserID: "u1", Source: "openstack",
			Timestamp: ts.Add(time.Duration(i) * time.Second), MessageID: fmt.Sprintf("id-%d", i),
			Metadata: map[string]string{"flavor.name": "m1.small", "host": "compute-1"},
		}
	}
	return out
}

func secretFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(p, []byte(secret+"\n"), 0o600))
	return p
}

// TestPublishToSocket sends to a real UDP socket and decodes each datagram
// back: msgpack, the sample's fields, a signature that verifies (and
// fails with another secret).
func TestPublishToSocket(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	c := sdktest.Publisher(t, spec(), fmt.Sprintf("address = %q\ntelemetry_secret_file = %q\n", pc.LocalAddr().String(), secretFile(t)))
	in := samples(50)
	res, err := c.Publish(context.Background(), &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Equal(t, base.Accepted, res.Outcome, res.Reason)
	buf := make([]byte, 65535)
	require.NoError(t, pc.SetReadDeadline(time.Now().Add(5*time.Second)))
	for i := range in {
		n, _, err := pc.ReadFrom(buf)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, msgpack.Unmarshal(buf[:n], &m))
		require.True(t, sample.VerifySignature(m, secret), "datagram %d: %v", i, m)
		require.False(t, sample.VerifySignature(m, "other"))
		require.IsType(t, float64(0), m["counter_volume"], "a float, as Python sends")
		require.Contains(t, m, "user_name")
		got, err := sample.FromCeilometer(m)
		require.NoError(t, err)
		got.Signature = ""
		require.Equal(t, in[i], got)
	}
}

// TestIntegrationPythonCollector has /usr/bin/python3 receive the
// datagrams as Ceilometer's collector did (python3-msgpack) and check each
// signature with Ceilometer's own verify_signature (python3-ceilometer).
func TestIntegrationPythonCollector(t *testing.T) {
	if testing.Short() {
		t.Skip("real peer; run without -short")
	}
	t.Parallel()
	const n = 20
	cmd := exec.CommandContext(t.Context(), "/usr/bin/python3", "testdata/receive.py", strconv.Itoa(n), secret)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start(), "install the peers with: make peers (python3-msgpack, python3-ceilometer)")
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	require.True(t, sc.Scan(), "receiver did not start (python3-ceilometer and python3-msgpack installed? make peers)")
	port := sc.Text()

	c := sdktest.Publisher(t, spec(), fmt.Sprintf("address = \"127.0.0.1:%s\"\ntelemetry_secret_file = %q\n", port, secretFile(t)))
	in := samples(n)
	res, err := c.Publish(context.Background(), &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Equal(t, base.Accepted, res.Outcome, res.Reason)
	for i := range n {
		require.True(t, sc.Scan(), "datagram %d: %v", i, sc.Err())
		var got struct {
			Msg      map[string]any `json:"msg"`
			Verified bool           `json:"verified"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &got))
		require.True(t, got.Verified, "ceilometer's verify_signature: %s", sc.Text())
		require.Equal(t, in[i].MessageID, got.Msg["message_id"])
		require.Equal(t, in[i].Volume, got.Msg["counter_volume"])
		require.Equal(t, "2026-12-07T10:00:"+fmt.Sprintf("%02d", i)+".123456+00:00", got.Msg["timestamp"])
		require.Equal(t, map[string]any{"flavor": map[string]any{"name": "m1.small"}, "host": "compute-1"}, got.Msg["resource_metadata"])
	}
}

func TestRejectsOversizedAndBadConfig(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	c := sdktest.Publisher(t, spec(), fmt.Sprintf("address = %q\nmax_datagram_bytes = 600\n", pc.LocalAddr().String()))
	in := samples(3)
	big := ""
	for range 100 {
		big += "0123456789"
	}
	in[1].Metadata = map[string]string{"blob": big}
	res, err := c.Publish(context.Background(), &sample.Batch{Samples: in})
	require.NoError(t, err)
	require.Len(t, res.Items, 1)
	require.Equal(t, base.Rejected, res.Items[0].Outcome)
	require.Contains(t, res.Items[0].Reason, "max_datagram_bytes")

	for _, bad := range []string{
		`address = "nowhere"`,
		`address = "127.0.0.1:1"` + "\nmax_datagram_bytes = 70000",
		`address = "127.0.0.1:1"` + "\ntelemetry_secret_env = \"ALTIMETER_TEST_UNSET_SECRET\"",
	} {
		p := sdktest.Start(t, spec().Info(), spec().Register())
		diags := p.Configure(t, bad)
		require.True(t, diags.HasErrors(), bad)
	}
}

func TestExample(t *testing.T) {
	t.Setenv("ALTIMETER_TELEMETRY_SECRET", secret)
	sp := spec()
	sdktest.CheckExample(t, "example.hcl", sp.Info(), sp.Register())
}
