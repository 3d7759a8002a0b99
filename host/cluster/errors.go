package cluster

import "errors"

// Sentinel errors.
var (
	// ErrNoLeader means no leader was known before the context ended.
	ErrNoLeader = errors.New("no cluster leader")
	// ErrNotLeader means a leader-only request reached a follower; callers
	// of Apply never see it (Apply forwards).
	ErrNotLeader = errors.New("not the leader")
	// ErrRemoveLeader means a request to remove the current leader.
	ErrRemoveLeader = errors.New("cannot remove the leader")
	// ErrCorrupt means the member's raft state on disk is unreadable or
	// missing where it must exist; the agent refuses to start on it.
	ErrCorrupt = errors.New("raft state unusable")
	// ErrUnreachable means a member address did not answer as expected.
	ErrUnreachable = errors.New("member unreachable")
	// ErrBusy means a member was serving as many member RPCs as it
	// allows; the request was not started, so it may be sent again.
	ErrBusy = errors.New("member busy")
	// ErrNotSent means a member RPC failed before its request left this
	// member (the address refused the connection, or the handshake
	// failed): nothing was started there, so it may be sent again. It comes
	// with ErrUnreachable.
	ErrNotSent = errors.New("request not sent")
)

// dialError marks an error of the member RPC client's dial: the request
// was not sent.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }
