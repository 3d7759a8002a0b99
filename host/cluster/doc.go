// Package cluster runs the member's raft node: setup over raft-boltdb and
// file snapshots, one listener shared by raft and the member RPC (first
// byte says which, optionally mTLS), bootstrap of a one-voter cluster or
// join of an existing one, forwarding of writes to the leader (Apply),
// failure detection from raft's heartbeat observations and the partition
// map the leader keeps current, the lease after which a member cut off
// from the leader gives its share up, and the rendezvous-hash ownership
// (Owner) the polling scheduler consults.
//
// The replicated state itself (commands, sections, snapshots) is in
// host/cluster/fsm. This package must not import host/api, host/agent or
// host/pipeline (the agent adapts Owner to pipeline.Owner).
package cluster
