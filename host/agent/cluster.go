package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/altimeter/altimeter/host/api"
	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/cluster"
	"github.com/altimeter/altimeter/host/cluster/fsm"
	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/host/pipeline"
	"github.com/altimeter/altimeter/sdk/sample"

	"github.com/altimeter/altimeter/internal/backoff"
)

// openCluster starts this agent's raft member: the cluster block's
// settings, or, without one, a one-voter cluster on a free loopback port
// that becomes leader within half a second.
func openCluster(cfg *config.Config, apiAddr string, a *Agent) (*cluster.Node, error) {
	cc := cluster.Config{
		Dir:              filepath.Join(cfg.Agent.DataDir, "raft"),
		APIAddress:       apiAddr,
		BindAddress:      "127.0.0.1:0",
		HeartbeatTimeout: cluster.StandaloneHeartbeatTimeout,
		Logger:           a.log,
	}
	if b := cfg.Agent.Cluster; b != nil {
		cc.NodeID, cc.BindAddress, cc.AdvertiseAddress, cc.Join = b.NodeID, b.Bind, b.Advertise, b.Join
		cc.HeartbeatTimeout = b.HeartbeatTimeout
		cc.SnapshotInterval = b.SnapshotInterval
		cc.SnapshotThreshold = uint64(b.SnapshotThreshold)
		if b.TLS != nil {
			var err error
			if cc.ServerTLS, cc.ClientTLS, err = cluster.LoadTLS(b.TLS.CAFile, b.TLS.CertFile, b.TLS.KeyFile); err != nil {
				return nil, err
			}
		}
	} else {
		cc.NodeID = standaloneID(cfg.Agent.DataDir)
	}
	n, err := cluster.Open(cc)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	for _, c := range n.Collectors() {
		a.reg.MustRegister(c)
	}
	return n, nil
}

// standaloneID is the node id of an agent without a cluster block: the one
// its raft directory already has, else the hostname.
func standaloneID(dataDir string) string {
	if b, err := os.ReadFile(filepath.Join(dataDir, "raft", "node-id")); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id
		}
	}
	return "" // cluster.Config defaults to the hostname
}

// clusterBootstrap waits until this member has caught up with the leader
// (until then the API answers an unknown token 503, not 401), then brings the local token files
// into the cluster (import of tokens.json, the admin token); ready is set
// once that is done. It retries until ctx ends.
func (a *Agent) clusterBootstrap(ctx context.Context, dataDir string) {
	bo := backoff.Exp{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	for {
		err := a.node.CatchUp(ctx)
		if err == nil {
			bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err = a.node.Tokens().Bootstrap(bctx, dataDir)
			cancel()
		}
		if err == nil {
			a.bootstrapped.Store(true)
			a.log.Info("cluster ready", "node_id", a.node.ID(), "epoch", a.node.Epoch())
			return
		}
		if ctx.Err() != nil {
			return
		}
		wait := bo.Next()
		a.log.Warn("cluster bootstrap", "error", err, "retry_in", wait)
		if !backoff.Sleep(ctx, wait) {
			return
		}
	}
}

// ready is /healthz: not ready while no leader is known or the token
// bootstrap has not run.
func (a *Agent) ready() error {
	if id, _ := a.node.Leader(); id == "" {
		return errors.New("no cluster leader")
	}
	if a.node.Epoch() == 0 {
		return errors.New("no partition map yet")
	}
	if !a.bootstrapped.Load() {
		return errors.New("cluster bootstrap (tokens) not done")
	}
	var failing []string
	for id, l := range a.listenerStates() {
		if l.State == pipeline.ListenerFailing {
			failing = append(failing, fmt.Sprintf("%s: %s", id, l.LastError))
		}
	}
	if len(failing) > 0 {
		sort.Strings(failing)
		return fmt.Errorf("degraded: listener %s", strings.Join(failing, "; listener "))
	}
	return nil
}

// setCapabilities tells the cluster which central pollsters this member
// runs: those of polling blocks with static resources or discovery.
func (a *Agent) setCapabilities(cfg *config.Config) {
	var pollsters, discovery []string
	for _, pl := range cfg.Polling {
		if len(pl.Resources) == 0 && len(pl.Discovery) == 0 {
			continue
		}
		for _, p := range cfg.Pollsters {
			pollsters = append(pollsters, p.ID)
		}
		for _, d := range pl.Discovery {
			discovery = append(discovery, d.Name)
		}
	}
	a.node.SetCapabilities(pollsters, discovery)
}

// owner adapts the cluster's ownership to the pipeline's.
type owner struct{ n *cluster.Node }

func (o owner) Owns(pollster string, r sample.Resource) bool { return o.n.Owns(pollster, r) }

// clusterService adapts the node to the API, mapping its errors to the
// API's.
type clusterService struct{ n *cluster.Node }

var _ api.ClusterService = clusterService{}

func (s clusterService) Status(ctx context.Context) (any, error) {
	st, err := s.n.Status(ctx)
	return st, apiErr(err)
}

func (s clusterService) Partitions(ctx context.Context) (any, error) {
	return s.n.Partitions(ctx), nil
}

func (s clusterService) Join(ctx context.Context, id, addr string) error {
	return apiErr(s.n.Join(ctx, id, addr))
}

func (s clusterService) Remove(ctx context.Context, id string) error {
	return apiErr(s.n.Remove(ctx, id))
}

func (s clusterService) Leave(ctx context.Context) error { return apiErr(s.n.Leave(ctx)) }

func apiErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fsm.ErrInvalid), errors.Is(err, cluster.ErrUnreachable):
		return fmt.Errorf("%w: %w", api.ErrBadRequest, err)
	case errors.Is(err, fsm.ErrNotFound):
		return fmt.Errorf("%w: %w", api.ErrNotFound, err)
	case errors.Is(err, fsm.ErrConflict), errors.Is(err, cluster.ErrRemoveLeader):
		return fmt.Errorf("%w: %w", api.ErrConflict, err)
	case errors.Is(err, cluster.ErrNoLeader):
		return fmt.Errorf("%w: %w", api.ErrUnavailable, err)
	}
	return err
}

// tokenService maps the cluster token store's errors to the API's.
type tokenService struct{ *cluster.Tokens }

func (t tokenService) Create(ctx context.Context, project string, role auth.Role) (string, auth.Principal, error) {
	tok, p, err := t.Tokens.Create(ctx, project, role)
	return tok, p, apiErr(err)
}

func (t tokenService) Revoke(ctx context.Context, id string) error {
	return apiErr(t.Tokens.Revoke(ctx, id))
}
