package alarm

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// MemNode is a Node without raft: commands apply to an in-memory FSM at
// once, stamped with Now (time.Now when nil). It is for tests and
// benchmarks of code built on a Service or Scheduler.
type MemNode struct {
	Now func() time.Time

	mu    sync.Mutex
	f     *fsm.FSM
	index uint64
}

// NewMemNode returns a MemNode with an empty state.
func NewMemNode() *MemNode { return &MemNode{f: fsm.New(hclog.NewNullLogger())} }

// Apply implements Node.
func (n *MemNode) Apply(_ context.Context, c fsm.Command) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	if n.Now != nil {
		now = n.Now()
	}
	b, err := fsm.Encode(c, now)
	if err != nil {
		return err
	}
	n.index++
	if res, ok := n.f.Apply(&raft.Log{Index: n.index, Term: 1, Type: raft.LogCommand, Data: b}).(error); ok {
		return res
	}
	return nil
}

// Barrier implements Node: a MemNode applies every command at once, so
// its state is always current.
func (n *MemNode) Barrier(context.Context) error { return nil }

// FSM implements Node.
func (n *MemNode) FSM() *fsm.FSM { return n.f }
