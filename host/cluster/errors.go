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
)
