package config

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// DefaultClusterBind is the raft listener of a cluster block without bind.
const DefaultClusterBind = "127.0.0.1:8300"

// Cluster is the agent's cluster block. Without one the agent runs a
// one-voter cluster on <data_dir>/raft, bound to a free loopback port.
type Cluster struct {
	// NodeID defaults to the hostname (empty here).
	NodeID    string
	Bind      string
	Advertise string
	// Join are members' raft addresses, asked for admission on the first
	// start only (a member with raft state rejoins by itself).
	Join              []string
	HeartbeatTimeout  time.Duration
	SnapshotThreshold int
	SnapshotInterval  time.Duration
	// TLS, when set, makes member-to-member traffic mutual TLS.
	TLS      *ClusterTLS
	DefRange hcl.Range
}

// ClusterTLS names the PEM files of the members' mutual TLS: each member
// presents cert_file and accepts peers whose certificates ca_file signed.
type ClusterTLS struct {
	CAFile, CertFile, KeyFile string
}

var clusterSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "node_id"}, {Name: "bind"}, {Name: "advertise"}, {Name: "join"},
		{Name: "heartbeat_timeout"}, {Name: "snapshot_threshold"}, {Name: "snapshot_interval"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "tls"}},
}

var clusterTLSSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "ca_file", Required: true}, {Name: "cert_file", Required: true}, {Name: "key_file", Required: true},
	},
}

// maxJoin bounds the join list.
const maxJoin = 64

func (l *loader) decodeCluster(b *hcl.Block) {
	if prev := l.cfg.Agent.Cluster; prev != nil {
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate cluster block",
			Detail:   fmt.Sprintf("agent.cluster is already declared at %s.", prev.DefRange),
			Subject:  b.DefRange.Ptr(),
		})
		return
	}
	c := &Cluster{Bind: DefaultClusterBind, DefRange: b.DefRange}
	l.cfg.Agent.Cluster = c
	content, diags := b.Body.Content(clusterSchema)
	l.diags = append(l.diags, diags...)
	if a, ok := content.Attributes["node_id"]; ok {
		c.NodeID = l.nonEmptyString(a)
		if len(c.NodeID) > 128 {
			l.attrError(a, "Invalid node_id", "A node id is at most 128 characters.")
		}
	}
	if a, ok := content.Attributes["bind"]; ok {
		c.Bind = l.hostPort(a)
	}
	if a, ok := content.Attributes["advertise"]; ok {
		c.Advertise = l.hostPort(a)
		if host, _, err := net.SplitHostPort(c.Advertise); err == nil {
			if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
				l.attrError(a, "Invalid advertise address", "Other members cannot dial an unspecified address; give one they can reach.")
			}
		}
	}
	if a, ok := content.Attributes["join"]; ok {
		refs := l.refList(a, false)
		if len(refs) > maxJoin {
			l.attrError(a, "Too many join addresses", fmt.Sprintf("At most %d addresses.", maxJoin))
		}
		for _, r := range refs {
			if err := checkHostPort(r.Name); err != nil {
				l.diags = append(l.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid join address",
					Detail:   fmt.Sprintf("%q: %s.", r.Name, err),
					Subject:  r.Range.Ptr(),
				})
				continue
			}
			c.Join = append(c.Join, r.Name)
		}
	}
	if a, ok := content.Attributes["heartbeat_timeout"]; ok {
		c.HeartbeatTimeout = l.duration(a, 100*time.Millisecond)
	}
	if a, ok := content.Attributes["snapshot_interval"]; ok {
		c.SnapshotInterval = l.duration(a, time.Second)
	}
	if a, ok := content.Attributes["snapshot_threshold"]; ok {
		c.SnapshotThreshold = l.positiveInt(a)
	}
	for _, blk := range content.Blocks {
		t := &ClusterTLS{}
		if l.tlsBlock(blk, "agent.cluster.tls", c.TLS != nil, clusterTLSSchema, map[string]*string{
			"ca_file": &t.CAFile, "cert_file": &t.CertFile, "key_file": &t.KeyFile,
		}) {
			c.TLS = t
		}
	}
}

func (l *loader) hostPort(a *hcl.Attribute) string {
	v, ok := l.stringAttr(a)
	if !ok {
		return ""
	}
	if err := checkHostPort(v); err != nil {
		l.attrError(a, "Invalid "+a.Name+" address", fmt.Sprintf("%q: %s.", v, err))
		return ""
	}
	return v
}

func checkHostPort(v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("not a host:port address: %w", err)
	}
	if host == "" {
		return fmt.Errorf("the host is empty")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("the port must be a number from 0 to 65535")
	}
	return nil
}

func (l *loader) attrError(a *hcl.Attribute, summary, detail string) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: a.Expr.Range().Ptr(),
	})
}
