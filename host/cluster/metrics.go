package cluster

import (
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/host/cluster/fsm"
)

type nodeMetrics struct {
	heartbeatFailures prometheus.Counter
	forwards          *prometheus.CounterVec
	applySeconds      prometheus.Histogram
	rpcRefused        prometheus.Counter
}

func newNodeMetrics() *nodeMetrics {
	return &nodeMetrics{
		heartbeatFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "altimeter_cluster_heartbeat_failures_total",
			Help: "Failed raft heartbeats this member observed as leader.",
		}),
		forwards: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_cluster_forwarded_total",
			Help: "Requests this member forwarded to the leader, by operation.",
		}, []string{"op"}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "altimeter_cluster_apply_seconds",
			Help:    "Time to commit and apply a command on the leader.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		rpcRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "altimeter_cluster_rpc_busy_total",
			Help: "Member RPCs answered 503 busy because as many as allowed were being served.",
		}),
	}
}

func (m *nodeMetrics) rpcBusy() {
	if m != nil {
		m.rpcRefused.Inc()
	}
}

func (m *nodeMetrics) forwarded(op string) {
	if m != nil {
		m.forwards.WithLabelValues(op).Inc()
	}
}

func (m *nodeMetrics) applied(d time.Duration) {
	if m != nil {
		m.applySeconds.Observe(d.Seconds())
	}
}

var (
	descState      = prometheus.NewDesc("altimeter_cluster_raft_state", "1 for this member's raft state.", []string{"state"}, nil)
	descTerm       = prometheus.NewDesc("altimeter_cluster_raft_term", "Current raft term.", nil, nil)
	descCommit     = prometheus.NewDesc("altimeter_cluster_raft_commit_index", "Raft commit index.", nil, nil)
	descApplied    = prometheus.NewDesc("altimeter_cluster_raft_applied_index", "Last log index applied to the state.", nil, nil)
	descContact    = prometheus.NewDesc("altimeter_cluster_raft_last_contact_seconds", "Seconds since the leader was last heard from (0 on the leader, -1 never).", nil, nil)
	descHasLeader  = prometheus.NewDesc("altimeter_cluster_has_leader", "1 when a leader is known.", nil, nil)
	descLease      = prometheus.NewDesc("altimeter_cluster_lease_held", "1 while this member may poll its share of central resources.", nil, nil)
	descEpoch      = prometheus.NewDesc("altimeter_cluster_partition_epoch", "Partition map epoch applied on this member.", nil, nil)
	descMembers    = prometheus.NewDesc("altimeter_cluster_members", "Recorded members.", nil, nil)
	descLive       = prometheus.NewDesc("altimeter_cluster_live_members", "Members in the current partition epoch.", nil, nil)
	descOwned      = prometheus.NewDesc("altimeter_cluster_owned_resources", "Central resources this member knows of, by owner in the current map.", []string{"member", "pollster"}, nil)
	descNodeMember = prometheus.NewDesc("altimeter_cluster_node_info", "This member's node id.", []string{"node_id"}, nil)
)

// Collectors returns the member's metrics for registration.
func (n *Node) Collectors() []prometheus.Collector {
	return []prometheus.Collector{n.metrics.heartbeatFailures, n.metrics.forwards, n.metrics.applySeconds, n.metrics.rpcRefused, nodeCollector{n}}
}

type nodeCollector struct{ n *Node }

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descTerm, descCommit, descApplied, descContact, descHasLeader, descLease, descEpoch, descMembers, descLive, descOwned, descNodeMember} {
		ch <- d
	}
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	state := n.raft.State()
	for _, s := range []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown} {
		v := 0.0
		if s == state {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, s.String())
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(descTerm, float64(n.raft.CurrentTerm()))
	gauge(descCommit, float64(n.raft.CommitIndex()))
	gauge(descApplied, float64(n.raft.AppliedIndex()))
	contact := -1.0
	if state == raft.Leader {
		contact = 0
	} else if last := n.raft.LastContact(); !last.IsZero() {
		contact = time.Since(last).Seconds()
	}
	gauge(descContact, contact)
	gauge(descHasLeader, b2f(func() bool { id, _ := n.Leader(); return id != "" }()))
	gauge(descLease, b2f(n.leaseHeld()))
	v := n.view.Load()
	gauge(descEpoch, float64(v.epoch))
	gauge(descLive, float64(len(v.live)))
	var members int
	n.fsm.Read(func(st *fsm.State) { members = len(fsm.MembersOf(st).List()) })
	gauge(descMembers, float64(members))
	counts := map[[2]string]int{}
	for _, r := range n.known.snapshot(v) {
		counts[[2]string{r.Owner, r.Pollster}]++
	}
	for k, c := range counts {
		ch <- prometheus.MustNewConstMetric(descOwned, prometheus.GaugeValue, float64(c), k[0], k[1])
	}
	ch <- prometheus.MustNewConstMetric(descNodeMember, prometheus.GaugeValue, 1, n.ID())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
