package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/sample"
)

func TestDecodeMsgpack(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"s": "héllo", "i": int64(-5), "u": uint64(math.MaxUint64), "big": int64(1 << 40), "f": 0.25,
		"n": nil, "t": true, "l": []any{"a", int64(1), map[string]any{"k": "v"}}, "b": []byte{0, 1},
		"m": map[string]any{"flavor": map[string]any{"name": "m1"}},
	}
	raw, err := msgpack.Marshal(in)
	require.NoError(t, err)
	got, err := decodeMsgpack(raw)
	require.NoError(t, err)
	require.Equal(t, in, got)

	f32, err := msgpack.Marshal(float32(0.5))
	require.NoError(t, err)
	got, err = decodeMsgpack(f32)
	require.NoError(t, err)
	require.Equal(t, 0.5, got)
	neg, err := msgpack.Marshal(int64(-40000))
	require.NoError(t, err)
	got, err = decodeMsgpack(neg)
	require.NoError(t, err)
	require.Equal(t, int64(-40000), got)

	deep := strings.Repeat("\x91", maxMsgpackDepth+1) + "\xc0"
	for name, data := range map[string]string{
		"empty":                  "",
		"map claims 2^32 pairs":  "\xdf\xff\xff\xff\xff",
		"array claims 2^32":      "\xdd\xff\xff\xff\xff",
		"str claims 2^32 bytes":  "\xdb\xff\xff\xff\xff",
		"bin longer than data":   "\xc4\x05ab",
		"truncated float":        "\xcb\x00\x00",
		"fixmap missing a value": "\x81\xa1k",
		"non-string key":         "\x81\x01\x02",
		"invalid utf-8":          "\xa2\xff\xfe",
		"trailing bytes":         "\xc0\xc0",
		"ext type":               "\xd4\x01\x00",
		"never-used byte":        "\xc1",
		"too deep":               deep,
	} {
		_, err := decodeMsgpack([]byte(data))
		require.Error(t, err, name)
	}
}

// mpSigned is one datagram as Ceilometer's udp publisher sends it: the
// metering message with a float volume, signed with secret, msgpack.
func mpSigned(t testing.TB, secret, name string, edit func(map[string]any)) string {
	t.Helper()
	s := sample.Sample{Name: name, Type: sample.Gauge, Unit: "B", Volume: 1.5, ResourceID: "r", MessageID: "id-" + name,
		Timestamp: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), Metadata: map[string]string{"flavor.name": "m1"}}
	m := sample.MeteringMessage(&s, "")
	m[sample.CeilometerVolume] = s.Volume
	m[sample.CeilometerSignature] = sample.ComputeSignature(m, secret)
	if edit != nil {
		edit(m)
	}
	raw, err := msgpack.Marshal(m)
	require.NoError(t, err)
	return string(raw)
}

// TestListenMsgpack: format = "msgpack" reads one metering message per
// datagram; with a secret, forged, tampered and unsigned datagrams are
// counted apart and dropped, and so are datagrams that are not msgpack.
func TestListenMsgpack(t *testing.T) {
	const secret = "s3cret"
	addr := freeAddr(t, "udp")
	// telemetry_secret here, its alias secret in TestListen.
	st := start(t, fmt.Sprintf("udp = %q\nformat = \"msgpack\"\ntelemetry_secret = %q\nbatch_timeout = \"50ms\"\n", addr, secret))
	waitFor(t, "bind", func() bool { return st.impl.Load() != nil && st.impl.Load().stats.listening.Load() > 0 })
	conn := dial(t, "udp", addr)
	for _, d := range []string{
		mpSigned(t, secret, "good", nil),
		mpSigned(t, "wrong", "forged", nil),
		mpSigned(t, secret, "tampered", func(m map[string]any) { m[sample.CeilometerVolume] = 9.0 }),
		mpSigned(t, "", "unsigned", nil),
		mpSigned(t, secret, "unsigned2", func(m map[string]any) { delete(m, sample.CeilometerSignature) }),
		"\xdf\xff\xff\xff\xff",
		`{"counter_name": "json"}`,
		mpSigned(t, secret, "good2", nil),
	} {
		_, err := conn.Write([]byte(d))
		require.NoError(t, err)
	}
	var got []sample.Sample
	for len(got) < 2 {
		got = append(got, st.recv(t, base.Accepted)...)
	}
	require.Equal(t, []string{"good", "good2"}, names(got))
	require.Equal(t, 1.5, got[0].Volume)
	require.Equal(t, "id-good", got[0].MessageID)
	require.Equal(t, map[string]string{"flavor.name": "m1"}, got[0].Metadata)
	impl := st.impl.Load()
	waitFor(t, "counters", func() bool { return impl.stats.datagrams.Load() == 8 })
	c := impl.Counters()
	require.Equal(t, uint64(2), c["bad_signatures"])
	require.Equal(t, uint64(2), c["unsigned"])
	require.Equal(t, uint64(2), c["bad_lines"])
}

// TestIntegrationCeilometerSender has Ceilometer 19's own code
// (/usr/bin/python3 with python3-ceilometer and python3-msgpack) send
// samples as its udp publisher does; the listener verifies every signature
// (integer and float volumes, nested metadata with a list) and drops the
// one signed with another secret.
func TestIntegrationCeilometerSender(t *testing.T) {
	if testing.Short() {
		t.Skip("real peer; run without -short")
	}
	const (
		secret = "telemetry-s3cret"
		n      = 40
	)
	addr := freeAddr(t, "udp")
	st := start(t, fmt.Sprintf("udp = %q\nformat = \"msgpack\"\nsecret = %q\nbatch_size = %d\nbatch_timeout = \"50ms\"\nread_buffer_size = 1048576\n", addr, secret, n))
	waitFor(t, "bind", func() bool { return st.impl.Load() != nil && st.impl.Load().stats.listening.Load() > 0 })
	_, port, _ := strings.Cut(addr, ":")
	cmd := exec.CommandContext(t.Context(), "/usr/bin/python3", "testdata/send_ceilometer.py", port, secret, strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "install the peers with: make peers (python3-msgpack, python3-ceilometer)")
	sent := bufio.NewScanner(strings.NewReader(string(out)))
	lines := 0
	for sent.Scan() {
		lines++
	}
	require.Equal(t, n+1, lines)

	var got []sample.Sample
	for len(got) < n {
		got = append(got, st.recv(t, base.Accepted)...)
	}
	require.Len(t, got, n)
	impl := st.impl.Load()
	waitFor(t, "the forged datagram", func() bool { return impl.stats.datagrams.Load() == n+1 })
	c := impl.Counters()
	require.Equal(t, uint64(1), c["bad_signatures"], "the sample signed with another secret")
	require.Zero(t, c["unsigned"])
	require.Zero(t, c["bad_lines"])
	require.Zero(t, c["udp_kernel_drops"])
	byID := map[string]sample.Sample{}
	for _, s := range got {
		byID[s.MessageID] = s
	}
	require.Len(t, byID, n)
	for i := range n {
		s, ok := byID[fmt.Sprintf("00000000-0000-4000-8000-%012d", i)]
		require.True(t, ok, "sample %d", i)
		require.Equal(t, "py.m", s.Name)
		want := float64(i)
		if i%2 == 1 {
			want += 0.25
		}
		require.Equal(t, want, s.Volume)
		require.Equal(t, "m1.small", s.Metadata["flavor.name"])
		require.Equal(t, "2", s.Metadata["flavor.vcpus"])
		require.NotEmpty(t, s.Signature)
	}
}

// FuzzDecodeMsgpack: any datagram decodes or fails without panicking or
// allocating beyond its size, and what a msgpack encoder writes from a
// decoded value decodes to the same value.
func FuzzDecodeMsgpack(f *testing.F) {
	f.Add(mpSigned(f, "s", "m", nil))
	f.Add("\xdf\xff\xff\xff\xff")
	f.Add("\x92\xa1a\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00")
	f.Fuzz(func(t *testing.T, data string) {
		v, err := decodeMsgpack([]byte(data))
		if err != nil {
			return
		}
		raw, err := msgpack.Marshal(v)
		require.NoError(t, err)
		back, err := decodeMsgpack(raw)
		require.NoError(t, err)
		if !reflect.DeepEqual(v, back) && !hasNaN(v) {
			t.Fatalf("round trip: %#v != %#v", v, back)
		}
	})
}

func hasNaN(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x)
	case []any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	}
	return false
}
