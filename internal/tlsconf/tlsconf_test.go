package tlsconf

import (
	"crypto/tls"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/testpki"
)

func TestConfigs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testpki.CA(t, dir, "x", "leaf")
	f := func(n string) string { return filepath.Join(dir, n) }

	c, err := Client(ca, f("leaf.pem"), f("leaf-key.pem"))
	require.NoError(t, err)
	require.NotNil(t, c.RootCAs)
	require.Len(t, c.Certificates, 1)
	c, err = Client("", "", "")
	require.NoError(t, err)
	require.Nil(t, c.RootCAs, "the system roots")

	s, err := Server(f("leaf.pem"), f("leaf-key.pem"), ca)
	require.NoError(t, err)
	require.Equal(t, tls.RequireAndVerifyClientCert, s.ClientAuth)
	s, err = Server(f("leaf.pem"), f("leaf-key.pem"), "")
	require.NoError(t, err)
	require.Equal(t, tls.NoClientCert, s.ClientAuth)

	_, err = Client(ca, f("leaf.pem"), "")
	require.ErrorContains(t, err, "both")
	_, err = CAPool(f("leaf-key.pem"))
	require.ErrorContains(t, err, "no PEM certificate")
	_, err = CAPool(f("missing.pem"))
	require.ErrorContains(t, err, "read CA file")
	_, err = Server(f("missing.pem"), f("leaf-key.pem"), "")
	require.ErrorContains(t, err, "load certificate")
	_, err = Server(f("leaf.pem"), f("leaf-key.pem"), f("leaf-key.pem"))
	require.ErrorContains(t, err, "client CA")
}
