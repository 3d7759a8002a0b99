package cluster

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/hashicorp/raft"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// Failure detection uses raft's own heartbeats: the leader sends one to
// every follower each HeartbeatTimeout/10 and reports a failed one as a
// FailedHeartbeatObservation (with the follower's last contact) and its
// recovery as a ResumedHeartbeatObservation. The leader commits a new
// partition epoch without a member whose heartbeats have failed for
// SuspectAfter, and with it again once they resume. No extra log entries,
// and the detector sees exactly the network raft replicates over.

// monitor runs on every member; it acts only while the member leads.
func (n *Node) monitor(ctx context.Context) {
	obs := make(chan raft.Observation, 256)
	o := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation, raft.LeaderObservation:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(o)
	defer n.raft.DeregisterObserver(o)
	failed := map[string]time.Time{} // peer -> last contact before failing
	tick := time.NewTicker(max(n.cfg.HeartbeatTimeout/10, 10*time.Millisecond))
	defer tick.Stop()
	wasLeader := false
	for {
		// Not woken by every applied entry: a busy leader would ask raft's
		// main loop for its configuration once per command. A tick
		// (HeartbeatTimeout/10) is soon enough for a new member's record.
		select {
		case <-ctx.Done():
			return
		case ob := <-obs:
			switch d := ob.Data.(type) {
			case raft.FailedHeartbeatObservation:
				id := string(d.PeerID)
				if _, ok := failed[id]; !ok {
					last := d.LastContact
					if last.IsZero() {
						last = time.Now()
					}
					failed[id] = last
					n.log.Warn("member missed heartbeats", "node_id", id, "last_contact", last)
				}
				n.metrics.heartbeatFailures.Inc()
			case raft.ResumedHeartbeatObservation:
				if _, ok := failed[string(d.PeerID)]; ok {
					n.log.Info("member answers heartbeats again", "node_id", string(d.PeerID))
				}
				delete(failed, string(d.PeerID))
			case raft.LeaderObservation:
				clear(failed)
			}
		case <-tick.C:
		}
		leader := n.IsLeader()
		if leader != wasLeader {
			clear(failed)
			wasLeader = leader
		}
		if leader {
			n.reconcile(ctx, failed)
		}
	}
}

// reconcile commits the partition map the leader sees: the voters that
// announced themselves and answer heartbeats. It also drops the records of
// members no longer in the raft configuration.
func (n *Node) reconcile(ctx context.Context, failed map[string]time.Time) {
	cfg, err := n.configuration()
	if err != nil {
		return
	}
	var (
		live    []string
		epoch   uint64
		current []string
		stale   []string
	)
	inConfig := map[string]bool{}
	n.fsm.Read(func(st *fsm.State) {
		ms := fsm.MembersOf(st)
		for _, s := range cfg.Servers {
			id := string(s.ID)
			inConfig[id] = true
			if s.Suffrage != raft.Voter {
				continue
			}
			if _, ok := ms.Get(id); !ok {
				continue
			}
			if t, bad := failed[id]; bad && id != n.ID() && time.Since(t) > n.cfg.SuspectAfter() {
				continue
			}
			live = append(live, id)
		}
		for _, m := range ms.List() {
			if !inConfig[m.ID] {
				stale = append(stale, m.ID)
			}
		}
		p := fsm.PartitionOf(st)
		epoch, current = p.Epoch, p.Live
	})
	sort.Strings(live)
	actx, cancel := context.WithTimeout(ctx, rpcCallTimeout)
	defer cancel()
	for _, id := range stale {
		m, _ := fsm.Marshal(fsm.MemberRemove{ID: id})
		if _, err := n.applyLocal(actx, m); err != nil && !errors.Is(err, fsm.ErrNotFound) {
			n.log.Warn("drop record of removed member", "node_id", id, "error", err)
		}
	}
	if slices.Equal(live, current) || (len(live) == 0 && len(current) == 0) {
		return
	}
	if live == nil {
		live = []string{}
	}
	m, _ := fsm.Marshal(fsm.PartitionSet{Epoch: epoch + 1, Live: live})
	if _, err := n.applyLocal(actx, m); err != nil {
		if !errors.Is(err, fsm.ErrConflict) && !errors.Is(err, ErrNotLeader) {
			n.log.Warn("commit partition map", "epoch", epoch+1, "error", err)
		}
		return
	}
	n.log.Info("committed partition map", "epoch", epoch+1, "live", live, "was", current)
}

// announce keeps this member's record (addresses, capabilities) current in
// the replicated state.
func (n *Node) announce(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		_, changed := n.fsm.Watch()
		if id, _ := n.Leader(); id != "" {
			n.announceOnce(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
		}
	}
}

func (n *Node) announceOnce(ctx context.Context) {
	caps := n.caps.Load()
	want := fsm.Member{ID: n.ID(), RaftAddress: n.addr, APIAddress: *n.apiAddr.Load(), Pollsters: caps.pollsters, Discovery: caps.discovery}
	same := false
	inConfig := false
	n.fsm.Read(func(st *fsm.State) {
		have, ok := fsm.MembersOf(st).Get(n.ID())
		same = ok && have.RaftAddress == want.RaftAddress && have.APIAddress == want.APIAddress &&
			slices.Equal(have.Pollsters, want.Pollsters) && slices.Equal(have.Discovery, want.Discovery)
	})
	if same {
		return
	}
	if cfg, err := n.configuration(); err == nil {
		for _, s := range cfg.Servers {
			inConfig = inConfig || string(s.ID) == n.ID()
		}
	}
	if !inConfig {
		return // not admitted yet, or removed: nothing to announce
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := n.Apply(actx, fsm.MemberUpsert{Member: want}); err != nil {
		n.log.Warn("announce member", "error", err)
		return
	}
	n.log.Info("announced member", "node_id", n.ID(), "pollsters", want.Pollsters)
}
