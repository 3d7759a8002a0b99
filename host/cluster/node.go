package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/altimeter/altimeter/host/cluster/fsm"
	"github.com/altimeter/altimeter/internal/backoff"
)

// Defaults.
const (
	// DefaultHeartbeatTimeout is raft's heartbeat and election timeout in a
	// cluster block without one.
	DefaultHeartbeatTimeout = time.Second
	// StandaloneHeartbeatTimeout is used without a cluster block: a single
	// voter has no one to miss, and a short timeout makes it leader (and
	// the agent ready) within half a second.
	StandaloneHeartbeatTimeout = 250 * time.Millisecond
	// DefaultSnapshotThreshold is how many log entries trigger a snapshot.
	DefaultSnapshotThreshold = 8192
	// DefaultSnapshotInterval is how often raft checks the threshold.
	DefaultSnapshotInterval = 2 * time.Minute
	// snapshotsRetained is how many snapshots stay on disk.
	snapshotsRetained = 2
	// nodeIDFile marks a raft directory as belonging to one node id.
	nodeIDFile = "node-id"
	raftDBFile = "raft.db"
)

// Config configures a member.
type Config struct {
	// NodeID is this member's raft id (default: the hostname).
	NodeID string
	// Dir holds raft.db, snapshots/ and node-id (<data_dir>/raft).
	Dir string
	// BindAddress is host:port of the raft and member RPC listener.
	BindAddress string
	// AdvertiseAddress is how other members reach it (default: the bound
	// address).
	AdvertiseAddress string
	// APIAddress is this member's REST API, recorded for the others.
	APIAddress string
	// Join lists members' raft addresses to ask for admission when this
	// member has no raft state yet. Empty: bootstrap a one-voter cluster.
	Join []string
	// HeartbeatTimeout is raft's heartbeat and election timeout. The
	// leader drops a member from the partition map after
	// SuspectAfter() of failed heartbeats; a member that heard nothing
	// from a leader for Lease() gives its share up.
	HeartbeatTimeout  time.Duration
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// ServerTLS and ClientTLS enable mTLS between members (both or
	// neither).
	ServerTLS, ClientTLS *tls.Config
	Logger               hclog.Logger
}

// Lease is how long a member keeps its share without hearing from a
// leader: three quarters of the heartbeat timeout, so it has given up
// before the leader (SuspectAfter) gives its share to others.
func (c *Config) Lease() time.Duration { return c.HeartbeatTimeout * 3 / 4 }

// SuspectAfter is how long the leader's heartbeats to a member must fail
// before the leader commits a partition map without it.
func (c *Config) SuspectAfter() time.Duration { return c.HeartbeatTimeout * 3 / 2 }

func (c *Config) defaults() error {
	if c.NodeID == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("node id: %w", err)
		}
		c.NodeID = h
	}
	if err := fsm.CheckID(c.NodeID); err != nil {
		return err
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.SnapshotInterval <= 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if (c.ServerTLS == nil) != (c.ClientTLS == nil) {
		return errors.New("tls: set both the server and the client side, or neither")
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	for _, j := range c.Join {
		if err := fsm.CheckAddress("join address", j); err != nil {
			return err
		}
	}
	return nil
}

// Node is a running member.
type Node struct {
	cfg   Config
	log   hclog.Logger
	fsm   *fsm.FSM
	raft  *raft.Raft
	store *raftboltdb.BoltStore
	mux   *mux
	trans *raft.NetworkTransport
	rpc   *http.Server
	httpc *http.Client
	addr  string // advertised raft address

	caps    atomic.Pointer[capabilities]
	apiAddr atomic.Pointer[string]
	view    atomic.Pointer[view]
	known   *knownResources
	metrics *nodeMetrics
	// rpcSlots holds a token per member RPC being served (limitRPC).
	rpcSlots chan struct{}
	// caughtUp is set once CatchUp saw this member apply what the leader
	// had committed: until then a token it does not know may be valid.
	caughtUp atomic.Bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

type capabilities struct {
	pollsters, discovery []string
}

// Open opens (or creates) the member's raft state and starts raft and the
// member RPC. A member without raft state bootstraps a one-voter cluster,
// or, with Join, asks a member for admission in the background. Close
// stops it.
func Open(cfg Config) (*Node, error) {
	if err := cfg.defaults(); err != nil {
		return nil, fmt.Errorf("cluster config: %w", err)
	}
	log := cfg.Logger.Named("cluster")
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create raft dir: %w", err)
	}
	if err := checkNodeID(cfg.Dir, cfg.NodeID); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: log, fsm: fsm.New(log), known: newKnownResources(), metrics: newNodeMetrics(),
		rpcSlots: make(chan struct{}, maxRPCInFlight)}
	n.caps.Store(&capabilities{pollsters: []string{}, discovery: []string{}})
	n.apiAddr.Store(&cfg.APIAddress)
	n.view.Store(&view{self: cfg.NodeID})
	ok := false
	defer func() {
		if !ok {
			_ = n.Close()
		}
	}()
	var err error
	n.store, err = openBolt(filepath.Join(cfg.Dir, raftDBFile))
	if err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, snapshotsRetained, log.Named("snapshots"))
	if err != nil {
		return nil, fmt.Errorf("open raft snapshots: %w", err)
	}
	has, err := raft.HasExistingState(n.store, n.store, snaps)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrCorrupt, cfg.Dir, err)
	}
	marked, err := hasNodeIDFile(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if marked && !has {
		return nil, fmt.Errorf("%w: %s says this member (%s) was part of a cluster, but %s holds no raft log and there is no snapshot: "+
			"refusing to start with an empty state (restore the files, or remove %s to join as a new member)",
			ErrCorrupt, filepath.Join(cfg.Dir, nodeIDFile), cfg.NodeID, filepath.Join(cfg.Dir, raftDBFile), cfg.Dir)
	}
	ln, err := net.Listen("tcp", cfg.BindAddress)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.BindAddress, err)
	}
	n.addr = cfg.AdvertiseAddress
	if n.addr == "" {
		n.addr = ln.Addr().String()
	}
	if err := fsm.CheckAddress("advertise address", n.addr); err != nil {
		_ = ln.Close()
		return nil, err
	}
	if host, _, _ := net.SplitHostPort(n.addr); net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		_ = ln.Close()
		return nil, fmt.Errorf("advertise address %s: an unspecified address cannot be dialled; set advertise", n.addr)
	}
	n.mux = newMux(ln, cfg.ServerTLS, cfg.ClientTLS, log.Named("mux"))
	adv, err := net.ResolveTCPAddr("tcp", n.addr)
	if err != nil {
		return nil, fmt.Errorf("advertise address %s: %w", n.addr, err)
	}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: &raftLayer{chanListener: chanListener{m: n.mux, ch: n.mux.raftCh}, advertise: adv},
		// A heartbeat to a member behind a silent cut (no RST, no ICMP)
		// blocks until this I/O timeout, and only then does raft report
		// it failed: one heartbeat timeout keeps detection within bound.
		MaxPool: 3, Timeout: cfg.HeartbeatTimeout, Logger: log.Named("raft-net"),
	})
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = log.Named("raft")
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.HeartbeatTimeout
	rc.LeaderLeaseTimeout = cfg.HeartbeatTimeout / 2
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	n.raft, err = raft.NewRaft(rc, n.fsm, n.store, n.store, snaps, n.trans)
	if err != nil {
		return nil, fmt.Errorf("%w: start raft: %v", ErrCorrupt, err)
	}
	if !has && len(cfg.Join) == 0 {
		f := n.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			ID: raft.ServerID(cfg.NodeID), Address: raft.ServerAddress(n.addr), Suffrage: raft.Voter,
		}}})
		if err := f.Error(); err != nil {
			return nil, fmt.Errorf("bootstrap cluster: %w", err)
		}
		log.Info("bootstrapped a one-voter cluster", "node_id", cfg.NodeID, "address", n.addr)
	}
	if has || len(cfg.Join) == 0 {
		if err := writeNodeID(cfg.Dir, cfg.NodeID); err != nil {
			return nil, err
		}
	}
	n.httpc = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			c, err := n.mux.dial(ctx, addr, connRPC)
			if err != nil {
				return nil, &dialError{err}
			}
			return c, nil
		},
		MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second,
	}}
	n.rpc = &http.Server{Handler: n.rpcHandler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	rpcLn := &chanListener{m: n.mux, ch: n.mux.rpcCh}
	go func() { _ = n.rpc.Serve(rpcLn) }()

	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.goRun(func() { n.watchState(ctx) })
	n.goRun(func() { n.announce(ctx) })
	n.goRun(func() { n.monitor(ctx) })
	n.goRun(func() { n.catchUpLoop(ctx) })
	if !has && len(cfg.Join) > 0 {
		n.goRun(func() { n.joinLoop(ctx) })
	}
	ok = true
	log.Info("raft started", "node_id", cfg.NodeID, "address", n.addr, "existing_state", has)
	return n, nil
}

func (n *Node) goRun(fn func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fn()
	}()
}

// Close stops the member: background loops, raft (without leaving the
// cluster), the listener and the stores. Safe to call twice and on a
// partly opened node.
func (n *Node) Close() error {
	var errs []error
	n.once.Do(func() {
		if n.cancel != nil {
			n.cancel()
		}
		if n.raft != nil {
			if err := n.raft.Shutdown().Error(); err != nil {
				errs = append(errs, fmt.Errorf("shut down raft: %w", err))
			}
		}
		if n.rpc != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = n.rpc.Shutdown(ctx)
			cancel()
		}
		if n.trans != nil {
			_ = n.trans.Close()
		}
		if n.mux != nil {
			n.mux.close()
		}
		n.wg.Wait()
		if n.store != nil {
			if err := n.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close raft.db: %w", err))
			}
		}
	})
	return errors.Join(errs...)
}

// ID is this member's node id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Address is this member's advertised raft address.
func (n *Node) Address() string { return n.addr }

// FSM is the replicated state, for readers (Read, Watch).
func (n *Node) FSM() *fsm.FSM { return n.fsm }

// Raft exposes the raft node, for status and tests.
func (n *Node) Raft() *raft.Raft { return n.raft }

// SetCapabilities records which central pollster instances and discovery
// sources this member runs (on start and after each reload); the member
// announces them to the cluster.
func (n *Node) SetCapabilities(pollsters, discovery []string) {
	c := &capabilities{pollsters: sortedCopy(pollsters), discovery: sortedCopy(discovery)}
	n.caps.Store(c)
}

// SetAPIAddress records this member's REST API address once it is bound
// (the configured one may have port 0).
func (n *Node) SetAPIAddress(addr string) { n.apiAddr.Store(&addr) }

func sortedCopy(in []string) []string {
	out := append([]string{}, in...)
	sort.Strings(out)
	// dedup
	w := 0
	for i, s := range out {
		if i == 0 || s != out[w-1] {
			out[w] = s
			w++
		}
	}
	return out[:w]
}

// Leader returns the leader's id and raft address, empty when unknown.
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// IsLeader reports whether this member leads.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// WaitLeader blocks until a leader is known or ctx ends.
func (n *Node) WaitLeader(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if id, _ := n.Leader(); id != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		case <-t.C:
		}
	}
}

// CatchUp waits for a leader, then until this member has applied what
// the leader had committed (after a restart: the log it replays). From
// then on its state is current enough to refuse an unknown token.
func (n *Node) CatchUp(ctx context.Context) error {
	if err := n.WaitLeader(ctx); err != nil {
		return err
	}
	if err := n.Barrier(ctx); err != nil {
		return fmt.Errorf("catch up with the leader: %w", err)
	}
	n.caughtUp.Store(true)
	return nil
}

// catchUpLoop runs CatchUp until it succeeds or ctx ends.
func (n *Node) catchUpLoop(ctx context.Context) {
	bo := backoff.Exp{Min: 100 * time.Millisecond, Max: 2 * time.Second}
	for !n.CaughtUp() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := n.CatchUp(cctx)
		cancel()
		if err == nil || !backoff.Sleep(ctx, bo.Next()) {
			return
		}
	}
}

// CaughtUp tells whether CatchUp has succeeded.
func (n *Node) CaughtUp() bool { return n.caughtUp.Load() }

// openBolt opens raft.db, turning bbolt's corruption errors (and panics on
// a mangled file) into ErrCorrupt.
func openBolt(path string) (s *raftboltdb.BoltStore, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%w: %s is corrupt: %v", ErrCorrupt, path, r)
		}
	}()
	s, err = raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bbolt.Options{Timeout: 5 * time.Second}})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("open %s: another agent holds it (%w)", path, err)
		}
		return nil, fmt.Errorf("%w: open %s: %v", ErrCorrupt, path, err)
	}
	// Read the edges of the log now, so a damaged file fails here and not
	// in raft's goroutines.
	if _, err := s.FirstIndex(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("%w: read %s: %v", ErrCorrupt, path, err)
	}
	last, err := s.LastIndex()
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("%w: read %s: %v", ErrCorrupt, path, err)
	}
	if last > 0 {
		var l raft.Log
		if err := s.GetLog(last, &l); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("%w: read last entry of %s: %v", ErrCorrupt, path, err)
		}
	}
	return s, nil
}

func checkNodeID(dir, id string) error {
	b, err := os.ReadFile(filepath.Join(dir, nodeIDFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read node id: %w", err)
	}
	if got := strings.TrimSpace(string(b)); got != id {
		return fmt.Errorf("%s belongs to node %q, not %q: keep the node id a member was created with (or remove the directory to join as a new member)", dir, got, id)
	}
	return nil
}

func hasNodeIDFile(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, nodeIDFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat node id: %w", err)
	}
	return true, nil
}

func writeNodeID(dir, id string) error {
	path := filepath.Join(dir, nodeIDFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return fmt.Errorf("write node id: %w", err)
	}
	return nil
}
