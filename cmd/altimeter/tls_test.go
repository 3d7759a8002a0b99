package main

import (
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/api"
	"github.com/altimeter/altimeter/internal/testpki"
)

// TestCAFile: the CLI talks to an https API whose certificate a CA of the
// test signed when --ca-file names that CA, and refuses it otherwise; with
// --cert-file and --key-file it passes an API that requires mutual TLS.
func TestCAFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testpki.CA(t, dir, "api", "server", "client")
	other := testpki.CA(t, dir, "other")
	file := func(name string) string { return filepath.Join(dir, name) }
	start := func(t *testing.T, clientCA string) string {
		tc, err := api.LoadTLS(file("server.pem"), file("server-key.pem"), clientCA)
		require.NoError(t, err)
		srv := httptest.NewUnstartedServer(&fakeAPI{})
		srv.TLS = tc
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv.URL
	}

	base := start(t, "")
	out, stderr, code := runCLI("--url", base, "--token", testToken, "--ca-file", ca, "meter", "list")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "memory.usage")
	_, stderr, code = runCLI("--url", base, "--token", testToken, "meter", "list")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "certificate")
	_, stderr, code = runCLI("--url", base, "--token", testToken, "--ca-file", other, "meter", "list")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "certificate")
	_, stderr, code = runCLI("--url", base, "--token", testToken, "--ca-file", file("missing.pem"), "meter", "list")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "--ca-file")

	mutual := start(t, ca)
	_, _, code = runCLI("--url", mutual, "--token", testToken, "--ca-file", ca, "meter", "list")
	require.Equal(t, 1, code, "no client certificate")
	out, stderr, code = runCLI("--url", mutual, "--token", testToken, "--ca-file", ca,
		"--cert-file", file("client.pem"), "--key-file", file("client-key.pem"), "meter", "list")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "memory.usage")
	_, stderr, code = runCLI("--url", mutual, "--token", testToken, "--ca-file", ca, "--cert-file", file("client.pem"), "meter", "list")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "--cert-file and --key-file go together")
}
