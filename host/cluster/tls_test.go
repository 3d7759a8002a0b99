package cluster

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/testpki"
)

// testCA writes a CA and one leaf certificate per name into dir and
// returns the CA file.
func testCA(t *testing.T, dir, prefix string, names ...string) string {
	t.Helper()
	return testpki.CA(t, dir, prefix, names...)
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
