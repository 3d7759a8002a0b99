package cluster

import (
	"context"
	"sort"
	"time"

	"github.com/hashicorp/raft"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// MemberStatus is one member as GET /v2/cluster shows it.
type MemberStatus struct {
	ID          string `json:"id"`
	RaftAddress string `json:"raft_address"`
	APIAddress  string `json:"api_address,omitempty"`
	Suffrage    string `json:"suffrage"`
	// State is "leader" (raft's leader, announced or not), "live" (in the
	// partition map), "suspect" (in the raft configuration, out of the
	// map) or "joining" (not announced).
	State     string    `json:"state"`
	Pollsters []string  `json:"pollsters"`
	Joined    time.Time `json:"joined,omitzero"`
}

// Status is the cluster as this member sees it (local, possibly stale on a
// member cut off from the leader).
type Status struct {
	NodeID       string         `json:"node_id"`
	State        string         `json:"state"`
	LeaderID     string         `json:"leader_id"`
	LeaderAddr   string         `json:"leader_address"`
	Term         uint64         `json:"term"`
	CommitIndex  uint64         `json:"commit_index"`
	AppliedIndex uint64         `json:"applied_index"`
	LastContact  string         `json:"last_contact,omitempty"`
	LeaseHeld    bool           `json:"lease_held"`
	Epoch        uint64         `json:"epoch"`
	Members      []MemberStatus `json:"members"`
}

// Status reports raft and membership state.
func (n *Node) Status(context.Context) (Status, error) {
	cfg, err := n.configuration()
	if err != nil {
		return Status{}, err
	}
	lid, laddr := n.Leader()
	st := Status{
		NodeID: n.ID(), State: stateName(n.raft.State()), LeaderID: lid, LeaderAddr: laddr,
		Term: n.raft.CurrentTerm(), CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.raft.AppliedIndex(),
		LeaseHeld: n.leaseHeld(), Members: []MemberStatus{},
	}
	if last := n.raft.LastContact(); !last.IsZero() && n.raft.State() != raft.Leader {
		st.LastContact = time.Since(last).Round(time.Millisecond).String()
	}
	sort.Slice(cfg.Servers, func(i, j int) bool { return cfg.Servers[i].ID < cfg.Servers[j].ID })
	n.fsm.Read(func(s *fsm.State) {
		ms, p := fsm.MembersOf(s), fsm.PartitionOf(s)
		st.Epoch = p.Epoch
		for _, srv := range cfg.Servers {
			id := string(srv.ID)
			m, announced := ms.Get(id)
			ms := MemberStatus{ID: id, RaftAddress: string(srv.Address), Suffrage: suffrageName(srv.Suffrage), Pollsters: []string{},
				State: memberState(id == lid, announced, p.IsLive(id))}
			if announced {
				ms.APIAddress, ms.Pollsters, ms.Joined = m.APIAddress, append([]string{}, m.Pollsters...), m.Joined
			}
			st.Members = append(st.Members, ms)
		}
	})
	return st, nil
}

// memberState is a member's State. The leader is "leader" from the moment
// raft elects it, also before its own record is applied (a new cluster's
// first member, a restarted leader): status then agrees with leader_id
// and the node's own state instead of showing the leader as "joining".
func memberState(leader, announced, live bool) string {
	switch {
	case leader:
		return "leader"
	case !announced:
		return "joining"
	case live:
		return "live"
	}
	return "suspect"
}

// Partitions is who owns what among the central resources this member
// knows of (the resources of its own polling blocks), with counts per
// member.
type Partitions struct {
	Epoch     uint64         `json:"epoch"`
	Live      []string       `json:"live"`
	Counts    map[string]int `json:"counts"`
	Resources []Resource     `json:"resources"`
}

// Partitions reports the current assignment.
func (n *Node) Partitions(context.Context) Partitions {
	v := n.view.Load()
	out := Partitions{Epoch: v.epoch, Live: []string{}, Counts: map[string]int{}, Resources: n.known.snapshot(v)}
	for _, m := range v.live {
		out.Live = append(out.Live, m.ID)
		out.Counts[m.ID] = 0
	}
	for _, r := range out.Resources {
		out.Counts[r.Owner]++
	}
	return out
}

func stateName(s raft.RaftState) string {
	switch s {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	}
	return "shutdown"
}

func suffrageName(s raft.ServerSuffrage) string {
	if s == raft.Voter {
		return "voter"
	}
	return "nonvoter"
}
