package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/altimeter/altimeter/host/cluster/fsm"

	"github.com/altimeter/altimeter/internal/backoff"
)

// Join asks the cluster to admit the member id at its raft address addr
// (through whichever member this one reaches; a follower hands it to the
// leader). The leader first checks that addr answers as id, so a typo
// never adds an unreachable voter that would cost the cluster its quorum.
func (n *Node) Join(ctx context.Context, id, addr string) error {
	if err := fsm.CheckID(id); err != nil {
		return err
	}
	if err := fsm.CheckAddress("member address", addr); err != nil {
		return err
	}
	body, _ := json.Marshal(joinRequest{ID: id, Address: addr})
	return n.leaderDo(ctx, "join", func(ctx context.Context) error { return n.admit(ctx, id, addr) },
		func(ctx context.Context, leader string) error {
			return n.call(ctx, leader, http.MethodPost, "/v1/join", body, nil)
		})
}

// admit runs on the leader.
func (n *Node) admit(ctx context.Context, id, addr string) error {
	if err := fsm.CheckID(id); err != nil {
		return err
	}
	if err := fsm.CheckAddress("member address", addr); err != nil {
		return err
	}
	cfg, err := n.configuration()
	if err != nil {
		return err
	}
	for _, s := range cfg.Servers {
		switch {
		case string(s.ID) == id && string(s.Address) == addr:
			return nil // already a member: a restarted joiner asking again
		case string(s.ID) == id:
			return fmt.Errorf("%w: node id %q is already a member at %s; give the new member another node_id, or remove the old one first", fsm.ErrConflict, id, s.Address)
		case string(s.Address) == addr:
			return fmt.Errorf("%w: address %s already belongs to member %q", fsm.ErrConflict, addr, s.ID)
		}
	}
	var info Info
	if err := n.call(ctx, addr, http.MethodGet, "/v1/info", nil, &info); err != nil {
		return fmt.Errorf("%w: join %s at %s: %v", ErrUnreachable, id, addr, err)
	}
	if info.ID != id {
		return fmt.Errorf("%w: %s answers as node %q, not %q", fsm.ErrInvalid, addr, info.ID, id)
	}
	if err := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, rpcCallTimeout).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return ErrNotLeader
		}
		return fmt.Errorf("add voter %s: %w", id, err)
	}
	n.log.Info("admitted member", "node_id", id, "address", addr)
	return nil
}

// Remove takes member id out of the cluster (raft configuration, member
// record, and so the partition map). Removing the leader is refused: run
// Leave on it instead, which hands leadership over first.
func (n *Node) Remove(ctx context.Context, id string) error {
	body, _ := json.Marshal(removeRequest{ID: id})
	return n.leaderDo(ctx, "remove", func(ctx context.Context) error { return n.removeLocal(ctx, id) },
		func(ctx context.Context, leader string) error {
			return n.call(ctx, leader, http.MethodPost, "/v1/remove", body, nil)
		})
}

func (n *Node) removeLocal(ctx context.Context, id string) error {
	if err := fsm.CheckID(id); err != nil {
		return err
	}
	if id == n.ID() {
		return fmt.Errorf("%w: %q is the leader; run `altimeter cluster leave` against it (it hands leadership over first), then remove it", ErrRemoveLeader, id)
	}
	cfg, err := n.configuration()
	if err != nil {
		return err
	}
	found := false
	for _, s := range cfg.Servers {
		found = found || string(s.ID) == id
	}
	if found {
		if err := n.raft.RemoveServer(raft.ServerID(id), 0, rpcCallTimeout).Error(); err != nil {
			if errors.Is(err, raft.ErrNotLeader) {
				return ErrNotLeader
			}
			return fmt.Errorf("remove server %s: %w", id, err)
		}
	}
	m, _ := fsm.Marshal(fsm.MemberRemove{ID: id})
	_, err = n.applyLocal(ctx, m)
	if errors.Is(err, fsm.ErrNotFound) {
		if !found {
			return fmt.Errorf("%w: no member %q", fsm.ErrNotFound, id)
		}
		err = nil
	}
	if err == nil {
		n.log.Info("removed member", "node_id", id)
	}
	return err
}

// Leave takes this member out of the cluster: a leader transfers
// leadership first. The agent keeps running without a cluster (not ready)
// until it is stopped.
func (n *Node) Leave(ctx context.Context) error {
	if n.IsLeader() {
		cfg, err := n.configuration()
		if err != nil {
			return err
		}
		if len(cfg.Servers) == 1 {
			return fmt.Errorf("%w: %s is the only member; there is no cluster to leave", fsm.ErrConflict, n.ID())
		}
		if err := n.raft.LeadershipTransfer().Error(); err != nil {
			return fmt.Errorf("transfer leadership: %w", err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for {
			if id, _ := n.Leader(); id != "" && id != n.ID() {
				break
			}
			select {
			case <-wctx.Done():
				return fmt.Errorf("leave: no new leader after the transfer: %w", wctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return n.Remove(ctx, n.ID())
}

func (n *Node) configuration() (raft.Configuration, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Configuration{}, fmt.Errorf("raft configuration: %w", err)
	}
	return f.Configuration(), nil
}

// joinLoop asks the join addresses for admission until one accepts or
// raft hears from a leader, with backoff; each failure is logged with its
// reason (a wrong address, a duplicate id).
func (n *Node) joinLoop(ctx context.Context) {
	bo := backoff.Exp{Min: 250 * time.Millisecond, Max: 10 * time.Second}
	for {
		if id, _ := n.Leader(); id != "" {
			break
		}
		var errs []error
		joined := false
		for _, addr := range n.cfg.Join {
			body, _ := json.Marshal(joinRequest{ID: n.ID(), Address: n.addr})
			err := n.call(ctx, addr, http.MethodPost, "/v1/join", body, nil)
			if err == nil {
				joined = true
				break
			}
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		}
		if joined {
			n.log.Info("joined the cluster", "node_id", n.ID())
			break
		}
		wait := bo.Next()
		n.log.Error("join failed; retrying", "join", n.cfg.Join, "error", errors.Join(errs...), "retry_in", wait)
		if !backoff.Sleep(ctx, wait) {
			return
		}
	}
	if err := writeNodeID(n.cfg.Dir, n.ID()); err != nil {
		n.log.Error("write node id", "error", err)
	}
}
