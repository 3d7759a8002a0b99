package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
	"github.com/altimeter/altimeter/sdk/base"
	"github.com/altimeter/altimeter/sdk/listener"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/sdktest"
)

// freeAddr returns a loopback address with a port that was free a moment
// ago (see peer.FreePort: below the ephemeral range).
func freeAddr(t *testing.T, network string) string {
	t.Helper()
	p, err := peer.FreePort(network)
	require.NoError(t, err)
	return fmt.Sprintf("127.0.0.1:%d", p)
}

// dial connects once the listener has bound, polling for at most 5s.
func dial(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial(network, addr)
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s %s: %v", network, addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// started runs the plugin over gRPC, keeping a handle on the instance so
// tests can read its counters.
type started struct {
	stream *listener.Stream
	impl   atomic.Pointer[socket]
}

// capturing is the plugin's spec, storing in impl each listener it builds.
func capturing(impl *atomic.Pointer[socket]) listener.Spec[config] {
	sp := spec()
	newFn := sp.New
	sp.New = func(c config, log hclog.Logger) (listener.Listener, error) {
		l, err := newFn(c, log)
		if err == nil {
			impl.Store(l.(*socket))
		}
		return l, err
	}
	return sp
}

func start(t *testing.T, src string) *started {
	t.Helper()
	st := &started{}
	client := sdktest.Listener(t, capturing(&st.impl), src)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := client.Listen(ctx)
	require.NoError(t, err)
	st.stream = stream
	return st
}

// recv waits for the next delivery and acks it with o.
func (st *started) recv(t *testing.T, o base.Outcome) []sample.Sample {
	t.Helper()
	type res struct {
		b   sample.Batch
		id  uint64
		err error
	}
	ch := make(chan res, 1)
	go func() {
		id, b, err := st.stream.Recv()
		ch <- res{b, id, err}
	}()
	select {
	case r := <-ch:
		require.NoError(t, r.err)
		require.NoError(t, st.stream.Ack(r.id, o, "test"))
		return r.b.Samples
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10s")
		return nil
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func names(ss []sample.Sample) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

func signed(t *testing.T, secret string, m map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(m)
	require.NoError(t, err)
	var back map[string]any
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	require.NoError(t, d.Decode(&back))
	back["message_signature"] = sample.ComputeSignature(back, secret)
	return back
}

func jsonLine(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw) + "\n"
}

func ceilo(name string, vol float64) map[string]any {
	s := sample.Sample{Name: name, Type: sample.Gauge, Volume: vol, ResourceID: "r", MessageID: "id-" + name,
		Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Metadata: map[string]string{"flavor.name": "m1"}}
	return sample.ToCeilometer(&s)
}

func TestListen(t *testing.T) {
	const secret = "s3cret"
	tests := []struct {
		name    string
		network string
		conf    string // extra config
		send    []string
		want    []string
		check   func(t *testing.T, got []sample.Sample, s *socket)
	}{
		{
			name: "influx over tcp", network: "tcp",
			send: []string{"cpu,resource_id=r1,unit=%,host=h value=1.5,idle=98i 1700000000000000000\nmem value=2\n"},
			want: []string{"cpu", "cpu.idle", "mem"},
			check: func(t *testing.T, got []sample.Sample, _ *socket) {
				require.Equal(t, "r1", got[0].ResourceID)
				require.Equal(t, "%", got[0].Unit)
				require.Equal(t, map[string]string{"host": "h"}, got[0].Metadata)
				require.Equal(t, time.Unix(1700000000, 0).UTC(), got[0].Timestamp)
				require.False(t, got[2].Timestamp.IsZero())
				for _, s := range got {
					require.Empty(t, s.MessageID, "no natural id: the store keys it by series and timestamp")
				}
			},
		},
		{
			name: "influx over udp, several lines per datagram", network: "udp",
			send: []string{"a value=1\nb value=2\n"},
			want: []string{"a", "b"},
		},
		{
			name: "influx seconds precision", network: "tcp", conf: `precision = "s"`,
			send: []string{"a value=1 1700000000\n"},
			want: []string{"a"},
			check: func(t *testing.T, got []sample.Sample, _ *socket) {
				require.Equal(t, time.Unix(1700000000, 0).UTC(), got[0].Timestamp)
			},
		},
		{
			name: "json object and array per line over tcp", network: "tcp", conf: `format = "json"`,
			send: []string{jsonLine(t, ceilo("a", 1)), jsonLine(t, []any{ceilo("b", 2), ceilo("c", 3)})},
			want: []string{"a", "b", "c"},
			check: func(t *testing.T, got []sample.Sample, _ *socket) {
				require.Equal(t, "id-a", got[0].MessageID)
				require.Equal(t, map[string]string{"flavor.name": "m1"}, got[0].Metadata)
				require.Equal(t, 3.0, got[2].Volume)
			},
		},
		{
			name: "json over udp", network: "udp", conf: `format = "json"`,
			send: []string{jsonLine(t, []any{ceilo("a", 1), ceilo("b", 2)})},
			want: []string{"a", "b"},
		},
		{
			name: "signed json, good and bad signatures", network: "tcp", conf: fmt.Sprintf("format = \"json\"\nsecret = %q", secret),
			send: []string{
				jsonLine(t, signed(t, secret, ceilo("good", 1))),
				jsonLine(t, signed(t, "wrong", ceilo("forged", 1))),
				jsonLine(t, ceilo("unsigned", 1)),
				jsonLine(t, func() map[string]any { m := signed(t, secret, ceilo("tampered", 1)); m["counter_volume"] = 9; return m }()),
				jsonLine(t, signed(t, secret, ceilo("good2", 1))),
			},
			want: []string{"good", "good2"},
			check: func(t *testing.T, _ []sample.Sample, s *socket) {
				require.Equal(t, uint64(2), s.stats.badSignatures.Load())
				require.Equal(t, uint64(1), s.stats.unsigned.Load())
			},
		},
		{
			name: "malformed lines are counted and the stream goes on", network: "tcp",
			send: []string{"a value=1\nnot line protocol\nb,type=bogus value=1\n" + strings.Repeat("x", 100) + " value=1\nc value=3\n"},
			conf: "max_line_bytes = 64",
			want: []string{"a", "c"},
			check: func(t *testing.T, _ []sample.Sample, s *socket) {
				require.Equal(t, uint64(2), s.stats.badLines.Load())
				require.Equal(t, uint64(1), s.stats.tooLong.Load())
			},
		},
		{
			name: "bad json is counted", network: "tcp", conf: `format = "json"`,
			send: []string{"{not json\n", `{"counter_name":"x"}` + "\n", "[1]\n", jsonLine(t, ceilo("ok", 1))},
			want: []string{"ok"},
			check: func(t *testing.T, _ []sample.Sample, s *socket) {
				require.Equal(t, uint64(3), s.stats.badLines.Load())
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeAddr(t, tc.network)
			st := start(t, fmt.Sprintf("%s = %q\nbatch_timeout = \"50ms\"\n%s\n", tc.network, addr, tc.conf))
			waitFor(t, "bind", func() bool { return st.impl.Load() != nil && st.impl.Load().stats.listening.Load() > 0 })
			conn := dial(t, tc.network, addr)
			for _, s := range tc.send {
				_, err := conn.Write([]byte(s))
				require.NoError(t, err)
			}
			var got []sample.Sample
			for len(got) < len(tc.want) {
				got = append(got, st.recv(t, base.Accepted)...)
			}
			require.Equal(t, tc.want, names(got))
			impl := st.impl.Load()
			waitFor(t, "accepted count", func() bool { return impl.stats.samples.Load() == uint64(len(tc.want)) })
			if tc.check != nil {
				tc.check(t, got, impl)
			}
		})
	}
}

func TestBatching(t *testing.T) {
	t.Run("by size", func(t *testing.T) {
		addr := freeAddr(t, "tcp")
		st := start(t, fmt.Sprintf("tcp = %q\nbatch_size = 3\nbatch_timeout = \"1h\"\nmax_in_flight = 1\n", addr))
		conn := dial(t, "tcp", addr)
		var lines strings.Builder
		for i := range 7 {
			fmt.Fprintf(&lines, "m%d value=%d\n", i, i)
		}
		_, err := conn.Write([]byte(lines.String()))
		require.NoError(t, err)
		require.Equal(t, []string{"m0", "m1", "m2"}, names(st.recv(t, base.Accepted)))
		require.Equal(t, []string{"m3", "m4", "m5"}, names(st.recv(t, base.Accepted)))
		// The 7th waits for the hour-long timeout or the connection's end.
		require.NoError(t, conn.Close())
		require.Equal(t, []string{"m6"}, names(st.recv(t, base.Accepted)))
	})
	t.Run("by timeout", func(t *testing.T) {
		addr := freeAddr(t, "tcp")
		st := start(t, fmt.Sprintf("tcp = %q\nbatch_size = 1000\nbatch_timeout = \"100ms\"\n", addr))
		conn := dial(t, "tcp", addr)
		begin := time.Now()
		_, err := conn.Write([]byte("a value=1\nb value=2\n"))
		require.NoError(t, err)
		require.Equal(t, []string{"a", "b"}, names(st.recv(t, base.Accepted)))
		require.GreaterOrEqual(t, time.Since(begin), 90*time.Millisecond)
	})
	t.Run("several batches of one connection in flight", func(t *testing.T) {
		addr := freeAddr(t, "tcp")
		st := start(t, fmt.Sprintf("tcp = %q\nbatch_size = 1\nmax_in_flight = 2\n", addr))
		conn := dial(t, "tcp", addr)
		_, err := conn.Write([]byte("a value=1\nb value=2\nc value=3\n"))
		require.NoError(t, err)
		// Two deliveries arrive before either is acked; the third waits.
		id1, b1, err := st.stream.Recv()
		require.NoError(t, err)
		id2, b2, err := st.stream.Recv()
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"a", "b"}, []string{b1.Samples[0].Name, b2.Samples[0].Name})
		require.NoError(t, st.stream.Ack(id1, base.Accepted, ""))
		require.NoError(t, st.stream.Ack(id2, base.Accepted, ""))
		require.Equal(t, []string{"c"}, names(st.recv(t, base.Accepted)))
	})
	t.Run("retry is emitted again, reject is dropped", func(t *testing.T) {
		addr := freeAddr(t, "tcp")
		st := start(t, fmt.Sprintf("tcp = %q\nbatch_size = 1\nmax_in_flight = 1\n", addr))
		conn := dial(t, "tcp", addr)
		_, err := conn.Write([]byte("a value=1\nb value=2\n"))
		require.NoError(t, err)
		require.Equal(t, []string{"a"}, names(st.recv(t, base.Retry)))
		require.Equal(t, []string{"a"}, names(st.recv(t, base.Rejected)))
		require.Equal(t, []string{"b"}, names(st.recv(t, base.Accepted)))
		impl := st.impl.Load()
		waitFor(t, "counts", func() bool { return impl.stats.samples.Load() == 1 && impl.stats.rejected.Load() == 1 })
	})
}

// TestListenStops checks that cancelling ctx ends Listen, with connections
// open and an emit blocked, that the sockets stay bound for the next
// stream, and that Close closes them once its goroutines have ended.
func TestListenStops(t *testing.T) {
	addr := freeAddr(t, "tcp")
	uaddr := freeAddr(t, "udp")
	c := defaultConfig()
	c.TCP, c.UDP, c.BatchSize = addr, uaddr, 1
	s, err := newSocket(c, sdktest.Logger(t))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	blocked := make(chan struct{}, 1)
	emit := func(ctx context.Context, b sample.Batch) error {
		blocked <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	done := make(chan error, 1)
	go func() { done <- s.Listen(ctx, emit) }()
	conn := dial(t, "tcp", addr)
	_ = dial(t, "tcp", addr) // an idle connection
	_, err = conn.Write([]byte("a value=1\nb value=2\n"))
	require.NoError(t, err)
	<-blocked
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Listen did not return after cancel")
	}
	// Between streams the ports stay bound: a sender is not refused.
	_ = dial(t, "tcp", addr)
	_, err = net.Listen("tcp", addr)
	require.ErrorContains(t, err, "address already in use")

	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	require.NoError(t, s.Close(cctx))
	// The ports are free again.
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	pc, err := net.ListenPacket("udp", uaddr)
	require.NoError(t, err)
	require.NoError(t, pc.Close())
	require.ErrorIs(t, s.Bind(cctx), errClosed)
}

// TestStreamHandover: the host's stream ends (a config reload) and a new
// one opens. The port stays bound and served in between, so nothing a
// sender wrote is lost: a connection open across the change goes on, a
// connection made and a datagram sent between the streams are delivered
// on the next stream, and a batch the old stream took but never
// acknowledged is emitted again on the new one.
func TestStreamHandover(t *testing.T) {
	t.Parallel()
	addr, uaddr := freeAddr(t, "tcp"), freeAddr(t, "udp")
	var impl atomic.Pointer[socket]
	client := sdktest.Listener(t, capturing(&impl), fmt.Sprintf("tcp = %q\nudp = %q\nbatch_timeout = \"20ms\"\n", addr, uaddr))
	recv := func(st *listener.Stream) (uint64, []string) {
		t.Helper()
		type res struct {
			id  uint64
			b   sample.Batch
			err error
		}
		ch := make(chan res, 1)
		go func() {
			id, b, err := st.Recv()
			ch <- res{id, b, err}
		}()
		select {
		case r := <-ch:
			require.NoError(t, r.err)
			return r.id, names(r.b.Samples)
		case <-time.After(10 * time.Second):
			t.Fatal("no delivery within 10s")
			return 0, nil
		}
	}

	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	st1, err := client.Listen(ctx1)
	require.NoError(t, err)
	kept := dial(t, "tcp", addr)
	_, err = kept.Write([]byte("a value=1\n"))
	require.NoError(t, err)
	id, got := recv(st1)
	require.Equal(t, []string{"a"}, got)
	require.NoError(t, st1.Ack(id, base.Accepted, ""))
	_, err = kept.Write([]byte("b value=2\n"))
	require.NoError(t, err)
	_, got = recv(st1) // taken, never acknowledged
	require.Equal(t, []string{"b"}, got)

	cancel1()
	waitFor(t, "stream 1 to end", func() bool { return impl.Load().stats.listening.Load() == 0 })
	_, err = kept.Write([]byte("c value=3\n"))
	require.NoError(t, err)
	fresh := dial(t, "tcp", addr)
	_, err = fresh.Write([]byte("d value=4\n"))
	require.NoError(t, err)
	udp := dial(t, "udp", uaddr)
	_, err = udp.Write([]byte("e value=5\n"))
	require.NoError(t, err)

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	st2, err := client.Listen(ctx2)
	require.NoError(t, err)
	var all []string
	for len(all) < 4 {
		id, got := recv(st2)
		require.NoError(t, st2.Ack(id, base.Accepted, ""))
		all = append(all, got...)
	}
	require.ElementsMatch(t, []string{"b", "c", "d", "e"}, all)
	waitFor(t, "accepted count", func() bool { return impl.Load().stats.samples.Load() == 5 })
}

// TestStreamsOverlap: the next stream may open before the plugin has seen
// the previous one end; the old stream's end must not detach the new one.
func TestStreamsOverlap(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t, "tcp")
	var impl atomic.Pointer[socket]
	client := sdktest.Listener(t, capturing(&impl), fmt.Sprintf("tcp = %q\nbatch_timeout = \"20ms\"\n", addr))
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	_, err := client.Listen(ctx1)
	require.NoError(t, err)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	st2, err := client.Listen(ctx2)
	require.NoError(t, err)
	waitFor(t, "both streams attached", func() bool { return impl.Load().stats.listening.Load() == 2 })
	cancel1()
	waitFor(t, "stream 1 to end", func() bool { return impl.Load().stats.listening.Load() == 1 })
	conn := dial(t, "tcp", addr)
	_, err = conn.Write([]byte("a value=1\n"))
	require.NoError(t, err)
	got := (&started{stream: st2}).recv(t, base.Accepted)
	require.Equal(t, []string{"a"}, names(got))
}

// TestBindFails: a port another socket holds fails the stream's open (the
// host's Listen) with net's error, said once; a following stream binds once
// the port is free, and back-to-back streams do not race each other's
// sockets.
func TestBindFails(t *testing.T) {
	t.Parallel()
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			var (
				addr string
				hold interface{ Close() error }
			)
			if network == "tcp" {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				addr, hold = l.Addr().String(), l
			} else {
				pc, err := net.ListenPacket("udp", "127.0.0.1:0")
				require.NoError(t, err)
				addr, hold = pc.LocalAddr().String(), pc
			}
			client := sdktest.Listener(t, spec(), fmt.Sprintf("%s = %q\n", network, addr))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := client.Listen(ctx)
			require.Error(t, err)
			want := fmt.Sprintf("listen %s %s: bind: address already in use", network, addr)
			require.Contains(t, err.Error(), want)
			require.Equal(t, 1, strings.Count(err.Error(), "listen "+network), err.Error())

			require.NoError(t, hold.Close())
			for i := range 3 {
				sctx, scancel := context.WithCancel(ctx)
				_, err := client.Listen(sctx)
				require.NoError(t, err, "stream %d", i)
				scancel() // the next stream's Bind waits for this one's close
			}
		})
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   string
		wants []string // substrings of the diagnostics; none: valid
		at    string   // where the first diagnostic points, file:line:col
	}{
		{name: "tcp only", src: `tcp = "127.0.0.1:0"`},
		{name: "udp json signed", src: "udp = \"[::1]:0\"\nformat = \"json\"\nsecret = \"x\""},
		{name: "nothing to listen on", src: ``, wants: []string{"tcp"}},
		{name: "bad address", src: `tcp = "localhost"`, wants: []string{"host:port"}},
		{name: "bad values", src: "tcp = \"127.0.0.1:0\"\nformat = \"xml\"\nbatch_size = 0\nbatch_timeout = \"soon\"\nmax_line_bytes = 1\nprecision = \"h\"",
			wants: []string{"format", "batch_size", "batch_timeout", "max_line_bytes", "precision"}},
		{name: "secret needs json", src: "tcp = \"127.0.0.1:0\"\nsecret = \"x\"", wants: []string{"secret"}},
		{name: "udp msgpack signed", src: "udp = \"127.0.0.1:0\"\nformat = \"msgpack\"\nsecret = \"x\""},
		{name: "msgpack is udp only", src: "tcp = \"127.0.0.1:0\"\nformat = \"msgpack\"", wants: []string{"udp datagrams only"}},
		{name: "one secret form", src: "udp = \"127.0.0.1:0\"\nformat = \"msgpack\"\nsecret = \"x\"\nsecret_env = \"HOME\"", wants: []string{"set at most one of secret, secret_env"}, at: "config.hcl:4:14"},
		{name: "unreadable secret file", src: "udp = \"127.0.0.1:0\"\nformat = \"msgpack\"\nsecret_file = \"/nonexistent/secret\"", wants: []string{"secret_file"}, at: "config.hcl:3:15"},
		// telemetry_secret* as the oslo listener and the udp and notifier
		// publishers name them; secret* are their aliases.
		{name: "telemetry_secret", src: "udp = \"127.0.0.1:0\"\nformat = \"msgpack\"\ntelemetry_secret = \"x\""},
		{name: "telemetry_secret_env", src: "udp = \"127.0.0.1:0\"\nformat = \"json\"\ntelemetry_secret_env = \"HOME\""},
		{name: "telemetry_secret needs json", src: "tcp = \"127.0.0.1:0\"\ntelemetry_secret = \"x\"", wants: []string{"Invalid value for telemetry_secret: applies only"}, at: "config.hcl:2:20"},
		{name: "unreadable telemetry_secret_file", src: "udp = \"127.0.0.1:0\"\nformat = \"msgpack\"\ntelemetry_secret_file = \"/nonexistent/secret\"", wants: []string{"telemetry_secret_file"}, at: "config.hcl:3:25"},
		{name: "name and alias", src: "udp = \"127.0.0.1:0\"\nformat = \"msgpack\"\ntelemetry_secret = \"x\"\nsecret = \"x\"", wants: []string{"Invalid value for secret: is an alias of telemetry_secret, which is set too"}, at: "config.hcl:4:10"},
		{name: "name and alias, env", src: "udp = \"127.0.0.1:0\"\nformat = \"msgpack\"\nsecret_env = \"HOME\"\ntelemetry_secret_env = \"HOME\"", wants: []string{"Invalid value for secret_env: is an alias of telemetry_secret_env"}, at: "config.hcl:3:14"},
		{name: "two forms, one an alias", src: "udp = \"127.0.0.1:0\"\nformat = \"msgpack\"\ntelemetry_secret = \"x\"\nsecret_file = \"/etc/hostname\"", wants: []string{"set at most one of telemetry_secret, telemetry_secret_env and telemetry_secret_file", "are aliases"}, at: "config.hcl:4:15"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sp := spec()
			p := sdktest.Start(t, sp.Info(), sp.Register())
			diags := p.Configure(t, tc.src)
			if len(tc.wants) == 0 {
				require.False(t, diags.HasErrors(), diags.Error())
				return
			}
			require.True(t, diags.HasErrors())
			for _, w := range tc.wants {
				require.Contains(t, sdktest.Text(diags), w)
			}
			if tc.at != "" {
				require.NotNil(t, diags[0].Subject, sdktest.Text(diags))
				r := diags[0].Subject.Start
				require.Equal(t, tc.at, fmt.Sprintf("%s:%d:%d", diags[0].Subject.Filename, r.Line, r.Column), sdktest.Text(diags))
			}
		})
	}
}

func TestExample(t *testing.T) {
	sp := spec()
	sdktest.CheckExample(t, "example.hcl", sp.Info(), sp.Register())
}

// reads is an io.Reader that returns one of its pieces per Read, as a
// connection returns what has arrived, then io.EOF.
type reads []string

func (r *reads) Read(p []byte) (int, error) {
	if len(*r) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*r)[0])
	if n == len((*r)[0]) {
		*r = (*r)[1:]
	} else {
		(*r)[0] = (*r)[0][n:]
	}
	return n, nil
}

// TestReadChunk checks that what one read brings is decoded and handed on
// as one chunk (a partial line waiting for the next read), up to about
// batch_size samples, with the line rules of one line at a time: CRLF
// endings, too long lines skipped and counted, and a bad JSON line losing
// only itself.
func TestReadChunk(t *testing.T) {
	chunks := func(t *testing.T, c config, in reads) [][]string {
		t.Helper()
		s, err := newSocket(c, sdktest.Logger(t))
		require.NoError(t, err)
		r := bufio.NewReaderSize(&in, c.MaxLineBytes)
		var out [][]string
		for range 100 {
			got, err := s.readChunk(s.log, r, nil)
			if len(got) > 0 {
				out = append(out, names(got))
			}
			if errors.Is(err, io.EOF) {
				return out
			}
			require.NoError(t, err)
		}
		t.Fatal("no EOF after 100 chunks")
		return nil
	}
	influxCfg := func() config {
		c := defaultConfig()
		c.TCP = "127.0.0.1:1"
		return c
	}
	t.Run("one chunk per read", func(t *testing.T) {
		c := influxCfg()
		got := chunks(t, c, reads{"a value=1\nb value=2\r\nc value=3\nd val", "ue=4\ne value=5\n", "f value=6"})
		require.Equal(t, [][]string{{"a", "b", "c"}, {"d", "e"}, {"f"}}, got)
	})
	t.Run("about batch_size samples per chunk", func(t *testing.T) {
		c := influxCfg()
		c.BatchSize, c.MaxLineBytes = 2, 1<<20 // all of it buffered at once
		const n = 20000
		var lines strings.Builder
		for i := range n {
			fmt.Fprintf(&lines, "m%d value=%d\n", i, i)
		}
		got := chunks(t, c, reads{lines.String()})
		var all []string
		for _, ch := range got {
			require.LessOrEqual(t, len(ch), 1+maxBlockBytes/len("m0 value=0\n"), "a chunk holds at most one block beyond batch_size")
			all = append(all, ch...)
		}
		require.Greater(t, len(got), lines.Len()/maxBlockBytes, "chunks")
		require.Len(t, all, n)
		require.Equal(t, fmt.Sprintf("m%d", n-1), all[n-1])
	})
	t.Run("too long lines", func(t *testing.T) {
		c := influxCfg()
		c.MaxLineBytes = 32
		s, err := newSocket(c, sdktest.Logger(t))
		require.NoError(t, err)
		in := reads{"a value=1\n" + strings.Repeat("x", 40) + " value=1\nb value=2\nbad\nc value=3\n"}
		r := bufio.NewReaderSize(&in, c.MaxLineBytes)
		var all []string
		for {
			got, err := s.readChunk(s.log, r, nil)
			all = append(all, names(got)...)
			if err != nil {
				require.ErrorIs(t, err, io.EOF)
				break
			}
		}
		require.Equal(t, []string{"a", "b", "c"}, all)
		require.Equal(t, uint64(1), s.stats.tooLong.Load())
		require.Equal(t, uint64(1), s.stats.badLines.Load())
	})
	t.Run("a bad json line loses only itself", func(t *testing.T) {
		c := influxCfg()
		c.Format = formatJSON
		got := chunks(t, c, reads{jsonLine(t, ceilo("a", 1)) + "{not json\r\n\n" + jsonLine(t, []any{ceilo("b", 2), ceilo("c", 3)})})
		require.Equal(t, [][]string{{"a", "b", "c"}}, got)
	})
}

// BenchmarkConn measures a TCP connection's path through the listener:
// reading, decoding and batching Influx lines, up to an emit that accepts
// every batch at once (b.N lines, batches of 1000).
func BenchmarkConn(b *testing.B) {
	c := defaultConfig()
	c.TCP = "127.0.0.1:1"
	s, err := newSocket(c, hclog.NewNullLogger())
	require.NoError(b, err)
	var lines []byte
	for i := range 1000 {
		lines = fmt.Appendf(lines, "cpu_util,resource_id=r%d,project_id=p,user_id=u,unit=%%,host=h%d value=%d.5 1700000000%09d\n", i%97, i%7, i, i)
	}
	var got atomic.Int64
	emit := func(_ context.Context, batch sample.Batch) error {
		got.Add(int64(len(batch.Samples)))
		return nil
	}
	server, client := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serveConn(context.Background(), server, emit)
	}()
	b.SetBytes(int64(len(lines)) / 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += 1000 {
		_, err := client.Write(lines[:len(lines)*min(1000, b.N-sent)/1000])
		require.NoError(b, err)
	}
	require.NoError(b, client.Close())
	<-done
	b.StopTimer()
	require.Equal(b, int64(b.N), got.Load())
}

// TestSlicePool checks that a recycled slice keeps no samples (no strings or
// maps kept alive by the pool) and comes back empty.
func TestSlicePool(t *testing.T) {
	var p slicePool
	s := []sample.Sample{{Name: "a", Metadata: map[string]string{"k": "v"}}, {Name: "b"}}
	p.put(s)
	require.Equal(t, make([]sample.Sample, 2), s, "cleared")
	got := p.get()
	require.Empty(t, got)
	if cap(got) > 0 { // a pool may drop what it holds at any time
		require.Equal(t, make([]sample.Sample, cap(got)), got[:cap(got)])
	}
	big := make([]sample.Sample, 1, maxPooledSamples+1)
	big[0].Name = "big"
	p.put(big)
	require.Equal(t, "big", big[0].Name, "an outsized slice is left alone (to the collector)")
}

// TestEmitUnencodable: a batch the SDK cannot send (ErrUnencodable, as for
// a batch over the message limit) is sent again in halves until only the
// samples that cannot be sent alone are left; they alone are dropped and
// counted, the rest are accepted once each. A rejected batch counts its
// samples.
func TestEmitUnencodable(t *testing.T) {
	c := defaultConfig()
	c.TCP = "127.0.0.1:1"
	s, err := newSocket(c, hclog.NewNullLogger())
	require.NoError(t, err)
	var batch []sample.Sample
	for i := range 10 {
		name := fmt.Sprintf("m%d", i)
		if i == 3 || i == 7 {
			name = "huge" + name
		}
		batch = append(batch, sample.Sample{Name: name})
	}
	var accepted []string
	sends := 0
	emit := func(_ context.Context, b sample.Batch) error {
		sends++
		for _, smp := range b.Samples {
			if strings.HasPrefix(smp.Name, "huge") {
				return fmt.Errorf("message too large: %w: %w", listener.ErrUnencodable, listener.ErrRejected)
			}
		}
		accepted = append(accepted, names(b.Samples)...)
		return nil
	}
	s.emit(context.Background(), emit, batch, hclog.NewNullLogger())
	require.Equal(t, []string{"m0", "m1", "m2", "m4", "m5", "m6", "m8", "m9"}, accepted)
	require.Equal(t, uint64(8), s.stats.samples.Load())
	require.Equal(t, uint64(2), s.stats.unencodable.Load())
	require.Zero(t, s.stats.rejected.Load())
	require.Less(t, sends, 2*len(batch), "halving, not one send per sample")

	reject := func(context.Context, sample.Batch) error { return listener.ErrRejected }
	s.emit(context.Background(), reject, batch, hclog.NewNullLogger())
	require.Equal(t, uint64(10), s.stats.rejected.Load(), "a rejected batch counts its samples")
	require.Equal(t, uint64(2), s.stats.unencodable.Load())
	require.Equal(t, uint64(2), s.Counters()["samples_unencodable"])
}
