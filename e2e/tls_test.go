package e2e

import (
	"bytes"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/testpki"
	"github.com/altimeter/altimeter/internal/tlsconf"
)

// TestIntegrationAPITLS: the agent serves its API over HTTPS with
// api { tls { ... } }; the CLI reaches it with --ca-file and refuses it
// without; plain HTTP gets nothing; /v2/plugins wants the admin token.
func TestIntegrationAPITLS(t *testing.T) {
	skipShort(t)
	pki := t.TempDir()
	ca := testpki.CA(t, pki, "api", "server")
	tc, err := tlsconf.Client(ca, "", "")
	require.NoError(t, err)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	a := startAgentWith(t, `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api {
    address       = "{{API}}"
    write_timeout = "30s"
    max_conns     = 64
    tls {
      cert_file = "`+filepath.Join(pki, "server.pem")+`"
      key_file  = "`+filepath.Join(pki, "server-key.pem")+`"
    }
  }
}
`, "", hc)
	base := "https://" + a.api
	cli := func(args ...string) (string, string, error) {
		cmd := exec.Command(filepath.Join(binDir, "altimeter"), append([]string{"--url", base, "--data-dir", a.data}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	out, stderr, err := cli("--ca-file", ca, "token", "list")
	require.NoError(t, err, stderr)
	require.Contains(t, out, "admin")
	_, stderr, err = cli("token", "list")
	require.Error(t, err, "without --ca-file the agent's certificate is not trusted")
	require.Contains(t, stderr, "certificate")

	resp, err := http.Get("http://" + a.api + "/healthz")
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP to the TLS port")

	req, err := http.NewRequest(http.MethodGet, base+"/v2/plugins", nil)
	require.NoError(t, err)
	resp, err = hc.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	req.Header.Set("X-Auth-Token", strings.TrimSpace(a.adminToken()))
	resp, err = hc.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
