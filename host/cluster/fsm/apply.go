package fsm

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Type is a command's type byte. Numbers are never reused. Allocation:
//
//	1-31   cluster core (this package): members, partition map, tokens
//	32-63  alarms (host/alarm): definitions, state transitions, history
//	64-127 free; ask in docs/architecture.md before taking one
//
// FlagOptional (0x80) set on a type means a member that does not know the
// type skips the entry with a warning instead of stopping.
type Type uint8

// FlagOptional marks a command older members may skip.
const FlagOptional Type = 0x80

// The core command types (one file each: cmd_<name>.go).
const (
	TypeMemberUpsert Type = 1
	TypeMemberRemove Type = 2
	TypePartitionSet Type = 3
	TypeTokenCreate  Type = 4
	TypeTokenRevoke  Type = 5
	TypeTokenImport  Type = 6
)

// headerLen is the type byte plus the leader's 8-byte timestamp.
const headerLen = 9

// MaxCommandSize bounds one encoded command.
const MaxCommandSize = 1 << 20

// Command is a value proposed through raft. It is encoded as JSON; its
// Type must be registered.
type Command interface {
	CommandType() Type
}

// Entry is a committed command as a handler sees it.
type Entry struct {
	Index uint64
	// Time is the leader's clock when it proposed the command: handlers
	// use it, never time.Now.
	Time    time.Time
	Type    Type
	Payload []byte
}

// Handler applies one committed command to the state. It runs with the
// state locked for writing, must be deterministic, and returns a state
// error (wrapping ErrNotFound, ErrConflict or ErrInvalid) or nil.
type Handler func(st *State, e Entry) error

type handlerSpec struct {
	name string
	fn   Handler
}

var handlers = map[Type]handlerSpec{}

// Register adds the handler of command type t. It is meant for init
// functions and panics on a duplicate or a zero type.
func Register(t Type, name string, fn Handler) {
	t &^= FlagOptional
	if t == 0 || fn == nil {
		panic("fsm: register: zero type or nil handler")
	}
	if prev, dup := handlers[t]; dup {
		panic(fmt.Sprintf("fsm: command type %d registered twice (%s, %s)", t, prev.name, name))
	}
	handlers[t] = handlerSpec{name: name, fn: fn}
}

// RegisterCommand registers apply for the command type C, decoding the
// entry's JSON into a C first (a decode failure panics: the log is corrupt
// or a newer member wrote a shape this one cannot read).
func RegisterCommand[C Command](name string, apply func(st *State, e Entry, c C) error) {
	var zero C
	Register(zero.CommandType(), name, func(st *State, e Entry) error {
		var c C
		if err := json.Unmarshal(e.Payload, &c); err != nil {
			panic(fmt.Sprintf("fsm: decode %s at index %d: %v", name, e.Index, err))
		}
		return apply(st, e, c)
	})
}

// CommandName returns the registered name of t, or "".
func CommandName(t Type) string { return handlers[t&^FlagOptional].name }

// Marshal encodes c without a timestamp: the form a follower forwards to
// the leader, which completes it with Stamp.
func Marshal(c Command) ([]byte, error) {
	t := c.CommandType()
	if _, ok := handlers[t&^FlagOptional]; !ok {
		return nil, fmt.Errorf("encode command: %w: type %d is not registered", ErrInvalid, t)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", CommandName(t), err)
	}
	if len(b)+headerLen > MaxCommandSize {
		return nil, fmt.Errorf("encode %s: %w: %d bytes is over the %d limit", CommandName(t), ErrInvalid, len(b), MaxCommandSize)
	}
	return append([]byte{byte(t)}, b...), nil
}

// Stamp turns a marshalled command (type byte + JSON) into a log entry
// carrying the leader's time.
func Stamp(m []byte, now time.Time) ([]byte, error) {
	if len(m) < 2 || len(m)+8 > MaxCommandSize {
		return nil, fmt.Errorf("stamp command: %w: %d bytes", ErrInvalid, len(m))
	}
	out := make([]byte, headerLen, len(m)+8)
	out[0] = m[0]
	binary.BigEndian.PutUint64(out[1:headerLen], uint64(now.UnixNano()))
	return append(out, m[1:]...), nil
}

// Encode is Stamp(Marshal(c), now).
func Encode(c Command, now time.Time) ([]byte, error) {
	m, err := Marshal(c)
	if err != nil {
		return nil, err
	}
	return Stamp(m, now)
}

// FSM is the raft.FSM. Apply, Snapshot and Restore are called by raft from
// one goroutine; readers use Read and Watch from any goroutine.
type FSM struct {
	log hclog.Logger

	mu      sync.RWMutex
	st      *State
	applied uint64
	changed chan struct{} // closed and replaced on every applied entry
}

var _ raft.FSM = (*FSM)(nil)

// New returns an FSM with an empty state.
func New(log hclog.Logger) *FSM {
	return &FSM{log: log.Named("fsm"), st: newState(), changed: make(chan struct{})}
}

// Apply applies one committed log entry.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if len(l.Data) < headerLen {
		panic(fmt.Sprintf("fsm: entry at index %d is %d bytes, shorter than its header", l.Index, len(l.Data)))
	}
	t := Type(l.Data[0])
	e := Entry{
		Index:   l.Index,
		Time:    time.Unix(0, int64(binary.BigEndian.Uint64(l.Data[1:headerLen]))).UTC(),
		Type:    t &^ FlagOptional,
		Payload: l.Data[headerLen:],
	}
	h, ok := handlers[e.Type]
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.notifyLocked(l.Index)
	if !ok {
		if t&FlagOptional != 0 {
			f.log.Warn("skipping unknown optional command", "type", uint8(e.Type), "raft_index", l.Index)
			return nil
		}
		panic(fmt.Sprintf("fsm: unknown command type %d at index %d (written by a newer member?)", e.Type, l.Index))
	}
	if err := h.fn(f.st, e); err != nil {
		return fmt.Errorf("%s: %w", h.name, err)
	}
	return nil
}

// notifyLocked records the applied index and wakes watchers; f.mu is held.
func (f *FSM) notifyLocked(index uint64) {
	if index > f.applied {
		f.applied = index
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// Read runs fn with the state locked for reading. fn must not keep
// references into the state past its return, nor block.
func (f *FSM) Read(fn func(st *State)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(f.st)
}

// Watch returns the last applied index and a channel closed when the next
// entry is applied (or a snapshot restored): readers re-read after it
// fires. The pair is consistent: nothing was applied between the index and
// the channel.
func (f *FSM) Watch() (uint64, <-chan struct{}) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.applied, f.changed
}

// Commands lists the registered command types, for docs and tests.
func Commands() map[Type]string {
	out := make(map[Type]string, len(handlers))
	keys := make([]int, 0, len(handlers))
	for t := range handlers {
		keys = append(keys, int(t))
	}
	sort.Ints(keys)
	for _, k := range keys {
		out[Type(k)] = handlers[Type(k)].name
	}
	return out
}
