package cluster

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// loseAnswer is a member RPC transport that sends each /v1/apply request
// (the leader applies it) and loses the answer of the first `lose` of
// them, as a connection that closes with the request in flight.
type loseAnswer struct {
	rt   http.RoundTripper
	mu   sync.Mutex
	lose int
	sent int
}

func (l *loseAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(r)
	if err != nil || r.URL.Path != "/v1/apply" {
		return resp, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent++
	if l.lose > 0 {
		l.lose--
		_ = resp.Body.Close()
		return nil, errors.New("read: connection reset by peer")
	}
	return resp, nil
}

func (l *loseAnswer) set(lose int) (sentBefore int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lose = lose
	return l.sent
}

func (l *loseAnswer) sentNow() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent
}

// idempotentRevoke is TokenRevoke marked fsm.Idempotent (a second revoke
// changes nothing and answers ErrNotFound, as a second DeliveryDone).
type idempotentRevoke struct{ fsm.TokenRevoke }

func (idempotentRevoke) Idempotent() {}

// TestForwardedApplyResentWhenIdempotent: a forwarded command whose answer
// is lost with its connection (the leader applied it) fails when it is not
// fsm.Idempotent, since a second apply could change the state twice; an
// fsm.Idempotent one is sent again and the caller gets the second apply's
// answer (ErrNotFound here: the first revoked the token, the second found
// nothing to do).
func TestForwardedApplyResentWhenIdempotent(t *testing.T) {
	t.Parallel()
	ms := threeMembers(t)
	leader := leaderOf(t, ms)
	var f *member
	for _, m := range ms {
		if m != leader {
			f = m
		}
	}
	ctx := ctxT(t)
	tok1, p1, err := f.node.Tokens().Create(ctx, "p", auth.RoleMember)
	require.NoError(t, err)
	tok2, p2, err := f.node.Tokens().Create(ctx, "p", auth.RoleMember)
	require.NoError(t, err)
	// No RPC of the follower is in flight once its writes are done.
	tr := &loseAnswer{rt: f.node.httpc.Transport}
	f.node.httpc.Transport = tr

	before := tr.set(1)
	err = f.node.Apply(ctx, fsm.TokenRevoke{ID: p1.TokenID})
	require.ErrorIs(t, err, ErrUnreachable, "not sent again: it may have been applied")
	require.Equal(t, before+1, tr.sentNow())
	require.NoError(t, f.node.Barrier(ctx))
	_, err = f.node.Tokens().Authenticate(ctx, tok1)
	require.ErrorIs(t, err, auth.ErrUnauthorized, "it was applied, though its answer was lost")

	before = tr.set(1)
	err = f.node.Apply(ctx, idempotentRevoke{fsm.TokenRevoke{ID: p2.TokenID}})
	require.ErrorIs(t, err, fsm.ErrNotFound, "sent again; the second apply found it done")
	require.Equal(t, before+2, tr.sentNow())
	require.NoError(t, f.node.Barrier(ctx))
	_, err = f.node.Tokens().Authenticate(ctx, tok2)
	require.ErrorIs(t, err, auth.ErrUnauthorized)
}
