package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/testpki"
	"github.com/altimeter/altimeter/internal/tlsconf"
)

// serve starts srv on a free loopback port until the test ends.
func serve(t *testing.T, srv *Server) {
	t.Helper()
	require.NoError(t, srv.Listen())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// testOptions are the options of testServer with the given changes.
func testOptions(t testing.TB, change func(*Options)) Options {
	fs := &fakeStore{rows: fixture(), now: func() time.Time { return t0.Add(time.Hour) }}
	o := Options{Address: "127.0.0.1:0", Logger: hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Warn}),
		Store: fs, Writer: fs, Auth: testAuth,
		Plugins: fakePlugins{{ID: "pollster.host.main", Name: "host", Kind: "pollster", Version: "1.0.0", State: "running", PID: 42,
			Since: t0, StderrTail: []string{"secret path /etc/x"}, Meters: []string{"cpu_util"}}}}
	if change != nil {
		change(&o)
	}
	return o
}

// TestPluginsNeedAnAdminToken: /v2/plugins shows pids and plugin stderr,
// so it is for admins; /healthz and /openapi.json stay open.
func TestPluginsNeedAnAdminToken(t *testing.T) {
	t.Parallel()
	srv := New(testOptions(t, nil))
	for _, path := range []string{"/v2/plugins", "/v2/plugins/pollster.host.main"} {
		rec := call(t, srv, "GET", path, "", "")
		requireError(t, rec, http.StatusUnauthorized, "missing X-Auth-Token")
		require.NotContains(t, rec.Body.String(), "secret")
		requireError(t, call(t, srv, "GET", path, tokA, ""), http.StatusForbidden, "admin token is required")
		requireError(t, call(t, srv, "GET", path, "nope", ""), http.StatusUnauthorized, "unauthorized")
		rec = call(t, srv, "GET", path, tokAdmin, "")
		require.Equal(t, http.StatusOK, rec.Code, path)
		require.Contains(t, rec.Body.String(), `"pid":42`)
	}
	for _, path := range []string{"/healthz", "/v2/openapi.json", "/metrics"} {
		require.Equal(t, http.StatusOK, call(t, srv, "GET", path, "", "").Code, path)
	}
}

// TestMetricsRequireToken: with the option /metrics asks for a token, any
// valid one.
func TestMetricsRequireToken(t *testing.T) {
	t.Parallel()
	srv := New(testOptions(t, func(o *Options) { o.MetricsRequireToken = true }))
	requireError(t, call(t, srv, "GET", "/metrics", "", ""), http.StatusUnauthorized, "missing X-Auth-Token")
	requireError(t, call(t, srv, "GET", "/metrics", "nope", ""), http.StatusUnauthorized, "unauthorized")
	for _, tok := range []string{tokA, tokAdmin} {
		rec := call(t, srv, "GET", "/metrics", tok, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Header().Get("Content-Type"), "text/plain")
	}
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/healthz", "", "").Code)
}

// TestLinksIgnoreTheHostHeader: resource links are built from public_url
// or the listen address, never from a (forgeable) Host header.
func TestLinksIgnoreTheHostHeader(t *testing.T) {
	t.Parallel()
	get := func(t *testing.T, base, path string) string {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		req.Host = "evil.example:666"
		req.Header.Set(TokenHeader, tokA)
		req.Header.Set("X-Forwarded-Host", "evil2.example")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		require.NotContains(t, string(b), "evil")
		return string(b)
	}
	hrefs := func(body string) []string {
		type linked struct{ Links []linkJSON }
		var rows []linked
		if strings.HasPrefix(body, "{") {
			var one linked
			require.NoError(t, json.Unmarshal([]byte(body), &one))
			rows = append(rows, one)
		} else {
			require.NoError(t, json.Unmarshal([]byte(body), &rows))
		}
		var out []string
		for _, r := range rows {
			for _, l := range r.Links {
				out = append(out, l.Href)
			}
		}
		return out
	}
	t.Run("listen address", func(t *testing.T) {
		t.Parallel()
		srv := New(testOptions(t, nil))
		serve(t, srv)
		base := "http://" + srv.Addr()
		for _, path := range []string{"/v2/resources", "/v2/resources/" + resourceA1} {
			hs := hrefs(get(t, base, path))
			require.NotEmpty(t, hs)
			for _, h := range hs {
				require.True(t, strings.HasPrefix(h, base+"/v2/"), h)
			}
		}
	})
	t.Run("public url", func(t *testing.T) {
		t.Parallel()
		const public = "https://metering.example.com/ceilometer"
		srv := New(testOptions(t, func(o *Options) { o.PublicURL = public + "/" }))
		serve(t, srv)
		hs := hrefs(get(t, "http://"+srv.Addr(), "/v2/resources/"+resourceA1))
		require.Equal(t, public+"/v2/resources/"+resourceA1, hs[0])
		for _, h := range hs {
			require.True(t, strings.HasPrefix(h, public+"/v2/"), h)
		}
	})
}

// TestTLS: the API over HTTPS with a certificate of a CA the test makes; a
// client that does not trust the CA, or speaks plain HTTP, gets nothing.
// With client_ca_file every client must present a certificate of that CA.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testpki.CA(t, dir, "api", "server", "client")
	other := testpki.CA(t, dir, "other", "stranger")
	pem := func(name string) string { return filepath.Join(dir, name+".pem") }
	key := func(name string) string { return filepath.Join(dir, name+"-key.pem") }
	client := func(t *testing.T, caFile, cert string) *http.Client {
		var certFile, keyFile string
		if cert != "" {
			certFile, keyFile = pem(cert), key(cert)
		}
		tc, err := tlsconf.Client(caFile, certFile, keyFile)
		require.NoError(t, err)
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	}
	getStatus := func(c *http.Client, url string) (int, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set(TokenHeader, tokA)
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}

	t.Run("server certificate", func(t *testing.T) {
		t.Parallel()
		tc, err := LoadTLS(pem("server"), key("server"), "")
		require.NoError(t, err)
		srv := New(testOptions(t, func(o *Options) { o.TLS = tc }))
		serve(t, srv)
		base := "https://" + srv.Addr()
		code, err := getStatus(client(t, ca, ""), base+"/v2/resources/"+resourceA1)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		require.True(t, strings.HasPrefix(srv.URL(), "https://"), srv.URL())

		_, err = getStatus(client(t, other, ""), base+"/healthz")
		require.ErrorContains(t, err, "certificate", "a client that does not trust the CA")
		code, err = getStatus(&http.Client{Timeout: 10 * time.Second}, "http://"+srv.Addr()+"/healthz")
		require.NoError(t, err)
		require.Equal(t, http.StatusBadRequest, code, "plain HTTP to the TLS port")
	})
	t.Run("mutual TLS", func(t *testing.T) {
		t.Parallel()
		tc, err := LoadTLS(pem("server"), key("server"), ca)
		require.NoError(t, err)
		srv := New(testOptions(t, func(o *Options) { o.TLS = tc }))
		serve(t, srv)
		base := "https://" + srv.Addr()
		code, err := getStatus(client(t, ca, "client"), base+"/v2/resources")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		_, err = getStatus(client(t, ca, ""), base+"/healthz")
		require.Error(t, err, "no client certificate")
		_, err = getStatus(client(t, ca, "stranger"), base+"/healthz")
		require.Error(t, err, "a client certificate of another CA")
	})
	t.Run("bad files", func(t *testing.T) {
		t.Parallel()
		_, err := LoadTLS(pem("server")+".missing", key("server"), "")
		require.ErrorContains(t, err, "load api tls: load certificate")
		_, err = LoadTLS(pem("server"), key("server"), key("server"))
		require.ErrorContains(t, err, "no PEM certificate")
	})
}

// hostileServer serves the fixture with short limits and a /metrics of
// 12 MiB, for a client that never reads its answer.
func hostileServer(t *testing.T, maxConns int, headerTimeout time.Duration) (*Server, int) {
	t.Helper()
	reg := prometheus.NewRegistry()
	// Larger than the socket buffers can hold (tcp_wmem's maximum is
	// 4 MiB here), cheap to encode.
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "altimeter_test_big", Help: strings.Repeat("big ", 3<<20)}))
	srv := New(testOptions(t, func(o *Options) {
		o.Gatherer = reg
		o.ServerLimits = ServerLimits{ReadHeaderTimeout: headerTimeout, ReadTimeout: 600 * time.Millisecond,
			WriteTimeout: time.Second, IdleTimeout: time.Second, MaxConns: maxConns}
	}))
	serve(t, srv)
	return srv, 12 << 20 // the help text alone
}

// closedWithin reads from c until the server closes it and returns how
// long that took; it fails the test past limit.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) (time.Duration, int) {
	t.Helper()
	start := time.Now()
	require.NoError(t, c.SetReadDeadline(start.Add(limit)))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "still open after %s", limit)
	return time.Since(start), int(n)
}

// TestSlowClientsAreCutOff is the slowloris test: a client that sends its
// headers byte by byte, one that sends its body byte by byte, and one that
// never reads its answer are each cut off within the timeouts, while other
// clients are served meanwhile.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	srv, full := hostileServer(t, 64, 300*time.Millisecond)
	addr := srv.Addr()
	dripper := func(t *testing.T, head, body string) net.Conn {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = io.WriteString(c, head)
		require.NoError(t, err)
		go func() {
			for i := 0; ; i = (i + 1) % len(body) {
				if _, err := c.Write([]byte{body[i]}); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		return c
	}
	served := func(t *testing.T) {
		t.Helper()
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		start := time.Now()
		resp, err := c.Get("http://" + addr + "/healthz")
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Less(t, time.Since(start), 3*time.Second)
	}
	t.Run("headers byte by byte", func(t *testing.T) {
		t.Parallel()
		c := dripper(t, "", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "+strings.Repeat("a", 1<<12))
		served(t)
		took, _ := closedWithin(t, c, 5*time.Second)
		require.Less(t, took, 3*time.Second)
	})
	t.Run("body byte by byte", func(t *testing.T) {
		t.Parallel()
		c := dripper(t, "POST /v2/meters/cpu_util HTTP/1.1\r\nHost: x\r\nX-Auth-Token: "+tokA+"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", "[{}]")
		served(t)
		took, _ := closedWithin(t, c, 5*time.Second)
		require.Less(t, took, 3*time.Second)
	})
	t.Run("never reads the answer", func(t *testing.T) {
		t.Parallel()
		// A small receive buffer, set before connecting (so the window is
		// small from the start): the answer cannot all sit in buffers.
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			}); err != nil {
				return err
			}
			return serr
		}}
		c, err := d.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		_, err = io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		served(t)
		time.Sleep(2500 * time.Millisecond) // past the write timeout, not reading
		_, n := closedWithin(t, c, 5*time.Second)
		require.Less(t, n, full, "the answer was cut off, not waited for")
	})
}

// TestConnectionLimit: at most MaxConns connections are served at once;
// silent connections that hold every slot are cut off by the header
// timeout, and the waiting client is served then.
func TestConnectionLimit(t *testing.T) {
	t.Parallel()
	srv, _ := hostileServer(t, 4, time.Second)
	addr := srv.Addr()
	var silent []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		silent = append(silent, c)
	}
	// The silent four hold every slot (the header timeout is 1 s).
	fresh := func(d time.Duration) *http.Client {
		return &http.Client{Timeout: d, Transport: &http.Transport{DisableKeepAlives: true}}
	}
	_, err := fresh(100 * time.Millisecond).Get("http://" + addr + "/healthz")
	require.Error(t, err, "a fifth connection is not served while four are held")
	start := time.Now()
	resp, err := fresh(5 * time.Second).Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Less(t, time.Since(start), 4*time.Second)
	for _, c := range silent {
		took, _ := closedWithin(t, c, 5*time.Second)
		require.Less(t, took, 4*time.Second)
	}
}

func TestLimitsDefaults(t *testing.T) {
	t.Parallel()
	require.Equal(t, DefaultServerLimits, ServerLimits{}.withDefaults())
	l := ServerLimits{WriteTimeout: time.Second, MaxConns: 3}.withDefaults()
	require.Equal(t, time.Second, l.WriteTimeout)
	require.Equal(t, 3, l.MaxConns)
	require.Equal(t, DefaultServerLimits.ReadTimeout, l.ReadTimeout)
	srv := New(Options{})
	require.Equal(t, DefaultServerLimits.WriteTimeout, srv.srv.WriteTimeout)
	require.Equal(t, DefaultServerLimits.IdleTimeout, srv.srv.IdleTimeout)
	require.Equal(t, DefaultServerLimits.ReadTimeout, srv.srv.ReadTimeout)
}
