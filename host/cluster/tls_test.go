package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testCA writes a CA and one leaf certificate per name into dir and
// returns the CA file.
func testCA(t *testing.T, dir, prefix string, names ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: prefix + "-ca"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	caFile := filepath.Join(dir, prefix+"-ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	for i, n := range names {
		lk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		lt := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: n}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
		ld, err := x509.CreateCertificate(rand.Reader, lt, ca, &lk.PublicKey, key)
		require.NoError(t, err)
		kd, err := x509.MarshalECPrivateKey(lk)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, n+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ld}), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, n+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600))
	}
	return caFile
}

// TestIntegrationClusterTLS: members with certificates of the cluster's
// CA replicate over mutual TLS; a member whose certificate another CA
// signed cannot join, and the cluster keeps its quorum.
func TestIntegrationClusterTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := testCA(t, dir, "good", "t1", "t2")
	other := testCA(t, dir, "evil", "t3")
	tlsMember := func(id, caFile string, join ...string) *member {
		srv, cli, err := LoadTLS(caFile, filepath.Join(dir, id+".pem"), filepath.Join(dir, id+"-key.pem"))
		require.NoError(t, err)
		m := &member{t: t, cfg: Config{NodeID: id, Dir: filepath.Join(t.TempDir(), "raft"), BindAddress: freeAddr(t), Join: join,
			HeartbeatTimeout: testHB, ServerTLS: srv, ClientTLS: cli, Logger: testLogger(t, id)}}
		m.start()
		t.Cleanup(func() { _ = m.node.Close() })
		return m
	}
	m1 := tlsMember("t1", ca)
	m2 := tlsMember("t2", ca, m1.node.Address())
	waitFor(t, 20*time.Second, "two members over mTLS", func() bool {
		return len(live(m1.node)) == 2 && len(live(m2.node)) == 2
	})
	m3 := tlsMember("t3", other)
	err := m1.node.Join(ctxT(t), "t3", m3.node.Address())
	require.ErrorIs(t, err, ErrUnreachable)
	require.ErrorContains(t, err, "certificate")
	_, _, err = m1.node.Tokens().Create(ctxT(t), "p", "member")
	require.NoError(t, err, "the cluster keeps its quorum")

	_, _, err = LoadTLS(filepath.Join(dir, "t1.pem")+".missing", filepath.Join(dir, "t1.pem"), filepath.Join(dir, "t1-key.pem"))
	require.ErrorContains(t, err, "cluster tls")
}
