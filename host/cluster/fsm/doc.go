// Package fsm is the cluster's replicated state machine: the raft.FSM that
// every member applies committed log entries to, in log order, and the
// state those entries build (members, the partition map, API tokens, and
// whatever other packages register, such as alarms).
//
// A log entry is one type byte (bit 0x80: safe to ignore when unknown),
// the leader's clock as 8 bytes of Unix nanoseconds (big endian), and the
// command's JSON. Apply is deterministic: handlers read time only from the
// entry, never from the clock, and never depend on map order. A command
// that cannot be decoded panics (a corrupt log must stop the member, never
// be skipped); a command that is valid but refused by the state (a
// duplicate token, a stale partition epoch) returns its error as the
// ApplyFuture's response.
//
// Commands register in init, one file per command (cmd_<name>.go), with
// Register or RegisterCommand; state lives in sections registered with
// RegisterSection, each snapshotted under its own name and version. Another
// package (host/alarm) adds its commands and its section from its own
// files the same way; type numbers are allocated in apply.go.
//
// This package must not import host/api, host/agent or host/cluster.
package fsm
