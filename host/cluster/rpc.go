package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

// The member RPC is HTTP/1.1 with JSON over the mux's RPC connections:
//
//	POST /v1/apply   body: a marshalled command; the leader stamps and applies it
//	POST /v1/barrier the leader runs a barrier; answers {"index"} it applied
//	POST /v1/join    {"id","address"}: the leader admits a voter
//	POST /v1/remove  {"id"}: the leader removes a member
//	GET  /v1/info    {"id","address","leader_id","state"}
//
// A follower forwards apply, join and remove to the leader itself, so a
// caller may ask any member. Errors carry fsm error codes, so errors.Is works
// across members. Reaching this port means being a member: protect it with
// the network and mTLS, as raft's own port. Without mTLS anyone who
// reaches it can send requests: at most maxRPCInFlight are served at once
// (each reads at most maxRPCBody), and the rest are answered 503 "busy" at
// once, without reading their bodies, so a flood costs bounded memory and
// never holds up raft, which has its own connections.
const (
	maxRPCBody     = fsm.MaxCommandSize + 1024
	maxRPCInFlight = 32
	rpcCallTimeout = 10 * time.Second
)

type rpcError struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	LeaderID string `json:"leader_id,omitempty"`
	// Index is the log index of an applied command.
	Index uint64 `json:"index,omitempty"`
}

type joinRequest struct {
	ID      string `json:"id"`
	Address string `json:"address"`
}

type removeRequest struct {
	ID string `json:"id"`
}

// Info is what a member says about itself.
type Info struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	LeaderID string `json:"leader_id"`
	State    string `json:"state"`
}

func (n *Node) rpcHandler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/apply", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRPCBody))
		if err != nil {
			writeRPCError(w, fmt.Errorf("%w: read command: %v", fsm.ErrInvalid, err))
			return
		}
		index, err := n.applyMarshalled(r.Context(), b)
		if err != nil {
			writeRPCError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rpcError{Index: index})
	})
	m.HandleFunc("POST /v1/barrier", func(w http.ResponseWriter, _ *http.Request) {
		if !n.IsLeader() {
			writeRPCError(w, ErrNotLeader)
			return
		}
		index, err := n.barrierLocal()
		if err != nil {
			writeRPCError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rpcError{Index: index})
	})
	m.HandleFunc("POST /v1/join", func(w http.ResponseWriter, r *http.Request) {
		var req joinRequest
		if err := decodeBody(w, r, &req); err != nil {
			writeRPCError(w, err)
			return
		}
		writeRPCError(w, n.Join(r.Context(), req.ID, req.Address))
	})
	m.HandleFunc("POST /v1/remove", func(w http.ResponseWriter, r *http.Request) {
		var req removeRequest
		if err := decodeBody(w, r, &req); err != nil {
			writeRPCError(w, err)
			return
		}
		writeRPCError(w, n.Remove(r.Context(), req.ID))
	})
	m.HandleFunc("GET /v1/info", func(w http.ResponseWriter, _ *http.Request) {
		id, _ := n.Leader()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Info{ID: n.ID(), Address: n.addr, LeaderID: id, State: n.raft.State().String()})
	})
	return limitRPC(m, n.rpcSlots, n.metrics)
}

// limitRPC serves at most cap(slots) requests at once; one more is
// answered 503 with code "busy" (the caller retries) and its connection
// closed, so its body is never read.
func limitRPC(h http.Handler, slots chan struct{}, m *nodeMetrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case slots <- struct{}{}:
		default:
			m.rpcBusy()
			w.Header().Set("Connection", "close")
			w.Header().Set("Retry-After", "1")
			writeRPCError(w, ErrBusy)
			return
		}
		defer func() { <-slots }()
		h.ServeHTTP(w, r)
	})
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: decode request: %v", fsm.ErrInvalid, err)
	}
	return nil
}

func writeRPCError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err == nil {
		_ = json.NewEncoder(w).Encode(rpcError{})
		return
	}
	code := fsm.Code(err)
	switch {
	case errors.Is(err, ErrRemoveLeader):
		code = "remove_leader"
	case errors.Is(err, ErrUnreachable):
		code = "unreachable"
	case errors.Is(err, ErrNotLeader):
		code = "not_leader"
	case errors.Is(err, ErrNoLeader):
		code = "no_leader"
	case errors.Is(err, ErrBusy):
		code = "busy"
	}
	status := http.StatusOK
	switch code {
	case "not_leader":
		status = http.StatusMisdirectedRequest
	case "busy":
		status = http.StatusServiceUnavailable
	case "internal":
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(rpcError{Code: code, Message: err.Error()})
}

// call sends one RPC to addr; errNotLeaderAt tells the caller to retry
// at the leader.
func (n *Node) call(ctx context.Context, addr, method, path string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, rpcCallTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", path, addr, err)
	}
	resp, err := n.httpc.Do(req)
	if err != nil {
		if de := (*dialError)(nil); errors.As(err, &de) {
			return fmt.Errorf("%w (%w): %s %s: %v", ErrUnreachable, ErrNotSent, path, addr, err)
		}
		return fmt.Errorf("%w: %s %s: %v", ErrUnreachable, path, addr, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: %s %s: read answer: %v", ErrUnreachable, path, addr, err)
	}
	var e rpcError
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("%s %s: HTTP %d: %w", path, addr, resp.StatusCode, err)
	}
	if e.Code == "" && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", path, addr, err)
		}
		return nil
	}
	switch e.Code {
	case "":
		return nil
	case "not_leader":
		return fmt.Errorf("%w (%s says the leader is %q)", ErrNotLeader, addr, e.LeaderID)
	case "remove_leader":
		return fmt.Errorf("%w: %s", ErrRemoveLeader, e.Message)
	case "unreachable":
		return fmt.Errorf("%w: %s", ErrUnreachable, e.Message)
	case "no_leader":
		return fmt.Errorf("%w: %s", ErrNoLeader, e.Message)
	case "busy":
		return fmt.Errorf("%s %s: %w", path, addr, ErrBusy)
	}
	return fsm.FromCode(e.Code, e.Message)
}

// Apply commits c through the leader and returns the state's answer: nil,
// or an error wrapping fsm.ErrNotFound, fsm.ErrConflict or fsm.ErrInvalid
// (errors.Is works whichever member applied it). On a follower it forwards
// c to the leader, waiting for one within ctx (30 s when ctx has no
// deadline). It returns once this member has applied the entry too, so
// the caller reads its own write on any member.
func (n *Node) Apply(ctx context.Context, c fsm.Command) error {
	m, err := fsm.Marshal(c)
	if err != nil {
		return err
	}
	index, err := n.applyMarshalled(ctx, m)
	if err != nil {
		return err
	}
	return n.WaitApplied(ctx, index)
}

func (n *Node) applyMarshalled(ctx context.Context, m []byte) (uint64, error) {
	var index uint64
	err := n.leaderDo(ctx, "apply", func(ctx context.Context) error {
		var err error
		index, err = n.applyLocal(ctx, m)
		return err
	}, func(ctx context.Context, addr string) error {
		var out rpcError
		if err := n.call(ctx, addr, http.MethodPost, "/v1/apply", m, &out); err != nil {
			return err
		}
		index = out.Index
		return nil
	})
	return index, err
}

// leaderDo runs local on the leader, or remote against the leader's
// address, retrying (within ctx) while leadership moves.
func (n *Node) leaderDo(ctx context.Context, what string, local func(context.Context) error, remote func(context.Context, string) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		var err error
		if n.IsLeader() {
			err = local(ctx)
		} else if _, addr := n.Leader(); addr != "" {
			n.metrics.forwarded(what)
			err = remote(ctx, addr)
		} else {
			err = ErrNoLeader
		}
		// A busy leader never started the request, nor one whose address
		// refused it (it died; the next leader takes it): asking again is
		// safe.
		if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrNoLeader) && !errors.Is(err, raft.ErrNotLeader) &&
			!errors.Is(err, ErrBusy) && !errors.Is(err, ErrNotSent) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w: %w", what, ErrNoLeader, ctx.Err())
		case <-t.C:
		}
	}
}

// applyLocal stamps and applies a marshalled command on the leader and
// returns its log index.
func (n *Node) applyLocal(ctx context.Context, m []byte) (uint64, error) {
	b, err := fsm.Stamp(m, time.Now())
	if err != nil {
		return 0, err
	}
	timeout := rpcCallTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	start := time.Now()
	f := n.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return 0, ErrNotLeader
		}
		return 0, fmt.Errorf("raft apply: %w", err)
	}
	n.metrics.applied(time.Since(start))
	if e, ok := f.Response().(error); ok {
		return f.Index(), e
	}
	return f.Index(), nil
}

// WaitApplied blocks until this member applied index, or ctx ends.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	for {
		applied, ch := n.fsm.Watch()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Barrier waits until this member has applied everything the leader had
// committed when it was called, and its ownership view (Owns, OwnsAlarm)
// has followed: read-your-writes for a reader on any member. A follower
// asks the leader (POST /v1/barrier) for the index its own barrier
// reached, since the follower's commit index may still be stale after a
// restart (a heartbeat names the leader before any entry tells the commit
// index).
func (n *Node) Barrier(ctx context.Context) error {
	var index uint64
	err := n.leaderDo(ctx, "barrier", func(context.Context) error {
		var err error
		index, err = n.barrierLocal()
		return err
	}, func(ctx context.Context, addr string) error {
		var out rpcError
		if err := n.call(ctx, addr, http.MethodPost, "/v1/barrier", nil, &out); err != nil {
			return err
		}
		index = out.Index
		return nil
	})
	if err != nil {
		return err
	}
	if err := n.WaitApplied(ctx, index); err != nil {
		return err
	}
	return n.waitView(ctx, index)
}

// waitView blocks until the ownership view (Owns, OwnsAlarm) was built
// from a state at least at index, or ctx ends: the view follows the
// applied state from its own goroutine, a moment later.
func (n *Node) waitView(ctx context.Context, index uint64) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for n.view.Load().index < index {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the ownership view at index %d: %w", index, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// barrierLocal runs a raft barrier on the leader and returns the index
// its FSM has applied after it.
func (n *Node) barrierLocal() (uint64, error) {
	if err := n.raft.Barrier(rpcCallTimeout).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return 0, fmt.Errorf("barrier: %w", ErrNotLeader)
		}
		return 0, fmt.Errorf("barrier: %w", err)
	}
	// The FSM's index, not raft's: barrier and no-op entries never reach
	// the FSM, so a follower could wait for raft's forever.
	applied, _ := n.fsm.Watch()
	return applied, nil
}
