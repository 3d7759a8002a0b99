package cluster

import (
	"context"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/raft"

	"github.com/altimeter/altimeter/host/cluster/fsm"
	"github.com/altimeter/altimeter/sdk/sample"
)

// view is the partition map as this member applied it, with the live
// members' capabilities: what Owns decides from.
type view struct {
	// index is the FSM's applied index when the view was built (the
	// state it read may be newer): Barrier waits for it.
	index uint64
	epoch uint64
	self  string
	live  []fsm.Member // sorted by id
}

// Assign returns the member of live that owns key among those that run
// pollster: rendezvous (highest random weight) hashing, so when a member
// joins or leaves only the keys it wins or held move. It returns "" when no
// live member runs pollster.
func Assign(live []fsm.Member, pollster, key string) string {
	var (
		best  string
		score uint64
	)
	for _, m := range live {
		if !m.Serves(pollster) {
			continue
		}
		h := weight(m.ID, key)
		if best == "" || h > score || (h == score && m.ID < best) {
			best, score = m.ID, h
		}
	}
	return best
}

func weight(member, key string) uint64 {
	d := xxhash.New()
	_, _ = d.WriteString(member)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(key)
	return d.Sum64()
}

// watchState rebuilds the view each time the state changes.
func (n *Node) watchState(ctx context.Context) {
	for {
		applied, changed := n.fsm.Watch()
		v := &view{index: applied, self: n.ID()}
		n.fsm.Read(func(st *fsm.State) {
			p := fsm.PartitionOf(st)
			ms := fsm.MembersOf(st)
			v.epoch = p.Epoch
			for _, id := range p.Live {
				if m, ok := ms.Get(id); ok {
					v.live = append(v.live, m)
				}
			}
		})
		if old := n.view.Load(); old.epoch != v.epoch {
			n.log.Info("partition epoch applied", "epoch", v.epoch, "live", len(v.live))
		}
		n.view.Store(v)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// leaseHeld reports whether this member may poll its share: it leads, or
// it heard from a leader within the lease.
func (n *Node) leaseHeld() bool {
	if n.raft.State() == raft.Leader {
		return true
	}
	last := n.raft.LastContact()
	return !last.IsZero() && time.Since(last) < n.cfg.Lease()
}

// Owns reports whether this member polls r for pollster (an instance id,
// "pollster.snmp"). Local resources (no endpoint: this host, its
// instances) are always its own. A central resource is its own when the
// applied partition map assigns it here and the lease is held; a member
// cut off from the leader owns none.
func (n *Node) Owns(pollster string, r sample.Resource) bool {
	if r.Endpoint == "" {
		return true
	}
	v := n.view.Load()
	owner := Assign(v.live, pollster, r.ID)
	mine := owner == v.self && n.leaseHeld()
	n.known.observe(pollster, r, owner)
	return mine
}

// Epoch is the partition epoch this member applied.
func (n *Node) Epoch() uint64 { return n.view.Load().epoch }

// knownResources remembers the central resources the scheduler asked
// about, so the partitions API and metrics can show who owns what. Bounded:
// entries not asked about for knownTTL go, and at most maxKnown are kept.
type knownResources struct {
	mu sync.Mutex
	m  map[knownKey]knownEntry
}

type knownKey struct{ pollster, id string }

type knownEntry struct {
	shown string // endpoint without credentials
	owner string
	seen  time.Time
}

const (
	knownTTL = 10 * time.Minute
	maxKnown = 100_000
)

func newKnownResources() *knownResources { return &knownResources{m: map[knownKey]knownEntry{}} }

func (k *knownResources) observe(pollster string, r sample.Resource, owner string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key := knownKey{pollster, r.ID}
	if _, ok := k.m[key]; !ok && len(k.m) >= maxKnown {
		return
	}
	k.m[key] = knownEntry{shown: redact(r.ID), owner: owner, seen: time.Now()}
}

// Resource is one central resource and its owner in the current map.
type Resource struct {
	Pollster string `json:"pollster"`
	Resource string `json:"resource"`
	Owner    string `json:"owner"`
}

// snapshot returns the known resources with their owners recomputed on
// the current view, sorted, dropping expired entries.
func (k *knownResources) snapshot(v *view) []Resource {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]Resource, 0, len(k.m))
	for key, e := range k.m {
		if time.Since(e.seen) > knownTTL {
			delete(k.m, key)
			continue
		}
		out = append(out, Resource{Pollster: key.pollster, Resource: e.shown, Owner: Assign(v.live, key.pollster, key.id)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pollster != out[j].Pollster {
			return out[i].Pollster < out[j].Pollster
		}
		return out[i].Resource < out[j].Resource
	})
	return out
}

// redact drops credentials from a resource id that is a URL
// (snmp://community@host?password=...): the user part, and query
// parameters whose names suggest a secret; the rest (host, port, path,
// resource_id) stays, so distinct targets stay distinct.
func redact(id string) string {
	if !strings.Contains(id, "://") {
		return id
	}
	u, err := url.Parse(id)
	if err != nil {
		return "(unparsable resource)"
	}
	u.User, u.Fragment = nil, ""
	q := u.Query()
	for k := range q {
		lk := strings.ToLower(k)
		for _, s := range []string{"pass", "community", "secret", "token", "key", "auth", "priv"} {
			if strings.Contains(lk, s) {
				q.Del(k)
				break
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// AssignAlarm returns the member of live that evaluates alarm id:
// rendezvous hashing over every live member (evaluating needs no plugin),
// so a member joining or leaving moves only the alarms it wins or held.
func AssignAlarm(live []fsm.Member, id string) string {
	var (
		best  string
		score uint64
	)
	key := "alarm\x00" + id
	for _, m := range live {
		h := weight(m.ID, key)
		if best == "" || h > score || (h == score && m.ID < best) {
			best, score = m.ID, h
		}
	}
	return best
}

// OwnsAlarm reports whether this member evaluates alarm id: the applied
// partition map assigns it here and the lease is held (a member cut off
// from the leader evaluates nothing, so the majority side can hand its
// alarms out).
func (n *Node) OwnsAlarm(id string) bool {
	v := n.view.Load()
	return AssignAlarm(v.live, id) == v.self && n.leaseHeld()
}
