package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

// Cluster timing of the e2e members: raft's heartbeat timeout and the
// central polling interval. The bound for a dead member's share to be
// polled again is 2 heartbeat timeouts + 1 polling interval.
const (
	clusterHB       = time.Second
	clusterInterval = 2 * time.Second
	failoverBound   = 2*clusterHB + clusterInterval
)

// memberTmpl is one member: a cluster block (join filled in by the test), a
// central polling block over every SNMP target, and a sink that writes what
// it polled to a file (to count polls per target) and publishes to the
// store member over the http publisher with this member's admin token
// (valid on every member).
const memberTmpl = `
agent {
  data_dir   = "{{DATA}}"
  plugin_dir = "{{PLUGINS}}"
  api { address = "{{API}}" }
  cluster {
    node_id            = "%s"
    bind               = "%s"
    join               = [%s]
    heartbeat_timeout  = "1s"
    snapshot_threshold = 16
    snapshot_interval  = "1s"
  }
}
%s`

const pollingTmpl = `
pollster "snmp" {
  timeout = "500ms"
  retries = 0
  meter "custom.uptime" {
    oid   = "1.3.6.1.2.1.25.1.1.0"
    type  = "gauge"
    unit  = "s"
    value = "value / 100"
  }
}

polling "central" {
  interval  = "2s"
  meters    = ["custom.*"]
  resources = [%s]
  sinks     = ["central"]
}

sink "central" {
  publish "file" { path = "{{DATA}}/polls.jsonl" }
  %s
}
`

type clusterMember struct {
	*agentProc
	id   string
	raft string
}

func startMember(t *testing.T, id string, join []string, body string) *clusterMember {
	t.Helper()
	raft := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	quoted := make([]string, len(join))
	for i, j := range join {
		quoted[i] = fmt.Sprintf("%q", j)
	}
	a := startAgent(t, fmt.Sprintf(memberTmpl, id, raft, strings.Join(quoted, ", "), body))
	return &clusterMember{agentProc: a, id: id, raft: raft}
}

func (m *clusterMember) admin() *client {
	return &client{t: m.t, base: "http://" + m.api, token: m.adminToken()}
}

type clusterStatus struct {
	NodeID   string `json:"node_id"`
	LeaderID string `json:"leader_id"`
	Epoch    uint64 `json:"epoch"`
	Members  []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"members"`
}

// status is GET /v2/cluster, or false while the member does not answer.
func (m *clusterMember) status(c *client) (clusterStatus, bool) {
	req, _ := http.NewRequest("GET", "http://"+m.api+"/v2/cluster", nil)
	req.Header.Set("X-Auth-Token", c.token)
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return clusterStatus{}, false
	}
	defer resp.Body.Close()
	var st clusterStatus
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return clusterStatus{}, false
	}
	return st, true
}

func (m *clusterMember) partitions(c *client) map[string]int {
	m.t.Helper()
	code, body := (&client{t: m.t, base: "http://" + m.api, token: c.token}).do("GET", "/v2/cluster/partitions", nil)
	require.Equal(m.t, http.StatusOK, code, string(body))
	var p struct {
		Counts map[string]int `json:"counts"`
	}
	require.NoError(m.t, json.Unmarshal(body, &p))
	return p.Counts
}

// poll is one sample a member wrote to its polls file.
type poll struct {
	resource string
	member   string
	at       time.Time
}

// readPolls reads the polls files of members.
func readPolls(t *testing.T, members ...*clusterMember) []poll {
	t.Helper()
	var out []poll
	for _, m := range members {
		out = append(out, readPollFile(t, m.id, m.path("polls.jsonl"))...)
	}
	return out
}

// readPollFile reads one member's polls file (a file publisher's JSON
// lines); a missing file is no polls.
func readPollFile(t *testing.T, member, path string) []poll {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []poll
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var s struct {
			ResourceID string `json:"resource_id"`
			Timestamp  string `json:"timestamp"`
		}
		if json.Unmarshal(sc.Bytes(), &s) != nil {
			continue // a line being written
		}
		ts, err := time.Parse("2006-01-02T15:04:05.999999-07:00", s.Timestamp)
		require.NoError(t, err, s.Timestamp)
		out = append(out, poll{resource: s.ResourceID, member: member, at: ts})
	}
	return out
}

// dupStats counts, among polls at or after from, the pairs of consecutive
// polls of one target closer than half an interval (a target polled twice
// in one interval), and the longest gap per target.
func dupStats(polls []poll, from time.Time) (dups int, maxGap time.Duration, per map[string][]poll) {
	per = map[string][]poll{}
	for _, p := range polls {
		if !p.at.Before(from) {
			per[p.resource] = append(per[p.resource], p)
		}
	}
	for _, ps := range per {
		sort.Slice(ps, func(i, j int) bool { return ps[i].at.Before(ps[j].at) })
		for i := 1; i < len(ps); i++ {
			gap := ps[i].at.Sub(ps[i-1].at)
			if gap < clusterInterval/2 {
				dups++
			}
			maxGap = max(maxGap, gap)
		}
	}
	return dups, maxGap, per
}

func epochOf(a *agentProc) float64 {
	return metric(a.metrics(), "altimeter_cluster_partition_epoch")
}

// TestIntegrationCluster runs a store member and three polling members as
// separate processes over 33 SNMP targets (one snmpd on 33 loopback
// addresses): each target polled once per interval across the cluster;
// samples reach the store member over the http publisher, once each;
// SIGKILL of the busiest member, its share picked up within the bound;
// restart from its data dir (no join, FSM from snapshot and log) and its
// share back; tokens made on one member work on all, a revoke is refused
// everywhere within a second; SIGKILL of the leader.
func TestIntegrationCluster(t *testing.T) {
	skipShort(t)
	began := time.Now()
	var extra []string
	for i := 2; i <= 33; i++ {
		extra = append(extra, fmt.Sprintf("127.0.0.%d", i))
	}
	s, err := peer.StartSnmpd(context.Background(), t.TempDir(), peer.SnmpdOptions{ExtraHosts: extra})
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	var urls []string
	for _, h := range s.Hosts {
		urls = append(urls, fmt.Sprintf("%q", fmt.Sprintf("snmp://%s@%s:%d", s.Community, h, s.Port)))
	}
	require.Len(t, urls, 33)

	// The store member: no polling of its own; the others publish to it.
	store := startMember(t, "store", nil, "")
	storeAdmin := store.admin()
	body := fmt.Sprintf(pollingTmpl, strings.Join(urls, ", "),
		fmt.Sprintf(`publish "http" {
    url        = "http://%s"
    token_file = "{{DATA}}/admin-token"
  }`, store.api))
	var pollers []*clusterMember
	for _, id := range []string{"n1", "n2", "n3"} {
		pollers = append(pollers, startMember(t, id, []string{store.raft}, body))
	}
	all := append([]*clusterMember{store}, pollers...)
	var last string
	defer func() {
		if t.Failed() {
			t.Logf("last cluster view: %s", last)
		}
	}()
	waitFor(t, 30*time.Second, "4 live members and every poller owning a share", func() bool {
		for _, m := range all {
			st, ok := m.status(storeAdmin)
			last = fmt.Sprintf("%s: %+v", m.id, st)
			if !ok || len(st.Members) != 4 {
				return false
			}
			for _, mm := range st.Members {
				if mm.State != "live" && mm.State != "leader" {
					return false
				}
			}
		}
		c := pollers[0].partitions(storeAdmin)
		last = fmt.Sprintf("partitions: %v", c)
		return c["n1"] > 0 && c["n2"] > 0 && c["n3"] > 0 && c["n1"]+c["n2"]+c["n3"] == 33
	})
	t.Logf("cluster of 4 up after %s", time.Since(began).Round(time.Millisecond))

	// Steady state: over 5 intervals every target is polled once per
	// interval, by one member.
	steady := time.Now().Add(clusterInterval)
	time.Sleep(6 * clusterInterval) //nolint: the measurement window itself
	polls := readPolls(t, pollers...)
	dups, maxGap, per := dupStats(polls, steady)
	require.Len(t, per, 33, "every target polled")
	require.Zero(t, dups, "a target polled twice in one interval in steady state")
	require.Less(t, maxGap, 2*clusterInterval, "a target missed an interval")
	for r, ps := range per {
		owners := map[string]bool{}
		for _, p := range ps {
			owners[p.member] = true
		}
		require.Len(t, owners, 1, "target %s polled by %v", r, owners)
	}
	inWindow := 0
	for _, ps := range per {
		inWindow += len(ps)
	}
	t.Logf("steady state: %d polls of 33 targets in the window after %s, duplicates 0, longest gap %s", inWindow, steady.Format(time.TimeOnly), maxGap)

	// Data plane: the store member's API has every poll once.
	waitFor(t, 20*time.Second, "every poll in the store member", func() bool {
		n := len(readPolls(t, pollers...))
		code, b := storeAdmin.do("GET", "/v2/meters/custom.uptime/statistics", nil)
		if code != http.StatusOK {
			return false
		}
		var st []map[string]any
		if json.Unmarshal(b, &st) != nil || len(st) != 1 {
			return false
		}
		return int(st[0]["count"].(float64)) >= n
	})
	resources := map[string]bool{}
	for _, r := range storeAdmin.list("/v2/resources") {
		resources[r["resource_id"].(string)] = true
	}
	for _, h := range s.Hosts {
		require.True(t, resources[h], "resource %s in the store member", h)
	}

	// SIGKILL the busiest member.
	counts := pollers[0].partitions(storeAdmin)
	victim := pollers[0]
	for _, p := range pollers {
		if counts[p.id] > counts[victim.id] {
			victim = p
		}
	}
	var survivors []*clusterMember
	for _, p := range pollers {
		if p != victim {
			survivors = append(survivors, p)
		}
	}
	share := map[string]bool{}
	for _, p := range readPolls(t, victim) {
		if !p.at.Before(steady) {
			share[p.resource] = true
		}
	}
	epoch0 := epochOf(survivors[0].agentProc)
	victim.pluginPIDs()
	require.NoError(t, victim.cmd.Process.Kill())
	killed := time.Now()
	var epochAt time.Time
	waitFor(t, failoverBound+10*time.Second, "a new epoch on the survivors", func() bool {
		for _, m := range survivors {
			if epochOf(m.agentProc) <= epoch0 {
				return false
			}
		}
		epochAt = time.Now()
		return true
	})
	var recovered time.Duration
	waitFor(t, failoverBound+10*time.Second, "every target of the dead member polled again", func() bool {
		got := map[string]time.Time{}
		for _, p := range readPolls(t, survivors...) {
			if share[p.resource] && p.at.After(killed) {
				if prev, ok := got[p.resource]; !ok || p.at.Before(prev) {
					got[p.resource] = p.at
				}
			}
		}
		if len(got) < len(share) {
			return false
		}
		for _, at := range got {
			recovered = max(recovered, at.Sub(killed))
		}
		return true
	})
	t.Logf("SIGKILL of %s (%d targets): new epoch after %s, every target polled again after %s (bound %s)",
		victim.id, len(share), epochAt.Sub(killed).Round(time.Millisecond), recovered.Round(time.Millisecond), failoverBound)
	require.LessOrEqual(t, recovered, failoverBound+clusterInterval, "share picked up late (bound %s, slack one interval)", failoverBound)
	time.Sleep(3 * clusterInterval) //nolint: the measurement window itself
	handover, _, _ := dupStats(readPolls(t, survivors...), killed)
	after, _, _ := dupStats(readPolls(t, survivors...), epochAt.Add(clusterInterval))
	t.Logf("duplicates after the kill: %d in the handover, %d after the new epoch", handover, after)
	require.Zero(t, after, "a target polled twice in one interval after the new epoch")

	// Tokens while the victim is down: made on one member, working on all.
	code, b := (&client{t: t, base: "http://" + survivors[0].api, token: survivors[0].adminToken()}).do("POST", "/v2/tokens", map[string]string{"project": "p1", "role": "member"})
	require.Equal(t, http.StatusCreated, code, string(b))
	var made struct{ ID, Token string }
	require.NoError(t, json.Unmarshal(b, &made))

	// Restart the victim from its data dir: no join needed, its FSM comes
	// back from snapshot and log, and it takes its share back.
	snaps, _ := filepath.Glob(victim.path("raft/snapshots/*"))
	require.NotEmpty(t, snaps, "the victim had written a raft snapshot")
	restarted := time.Now()
	victim.restart()
	require.Contains(t, victim.log.String(), "existing_state=true")
	waitFor(t, 20*time.Second, "the restarted member polling its share again", func() bool {
		n := 0
		for _, p := range readPolls(t, victim) {
			if p.at.After(restarted) {
				n++
			}
		}
		return n > 0 && pollers[0].partitions(storeAdmin)[victim.id] > 0
	})
	memberTok := &client{t: t, token: made.Token}
	for _, m := range all {
		memberTok.base = "http://" + m.api
		waitFor(t, 5*time.Second, "the member token on "+m.id, func() bool {
			code, _ := memberTok.do("GET", "/v2/meters", nil)
			return code == http.StatusOK
		})
	}
	// A revoke is refused everywhere within a second.
	code, b = (&client{t: t, base: "http://" + pollers[1].api, token: pollers[1].adminToken()}).do("DELETE", "/v2/tokens/"+made.ID, nil)
	require.Equal(t, http.StatusOK, code, string(b))
	revoked := time.Now()
	for _, m := range all {
		memberTok.base = "http://" + m.api
		waitFor(t, time.Second-time.Since(revoked), "the revoke on "+m.id, func() bool {
			code, _ := memberTok.do("GET", "/v2/meters", nil)
			return code == http.StatusUnauthorized
		})
	}
	t.Logf("revoke refused on all 4 members after %s", time.Since(revoked).Round(time.Millisecond))

	// SIGKILL the leader.
	st, ok := pollers[0].status(storeAdmin)
	require.True(t, ok)
	var leader *clusterMember
	var rest []*clusterMember
	for _, m := range all {
		if m.id == st.LeaderID {
			leader = m
		} else {
			rest = append(rest, m)
		}
	}
	require.NotNil(t, leader)
	before := rest[0].admin()
	code, b = before.do("POST", "/v2/tokens", map[string]string{"project": "p2", "role": "member"})
	require.Equal(t, http.StatusCreated, code, string(b))
	var madeBefore struct{ Token string }
	require.NoError(t, json.Unmarshal(b, &madeBefore))
	leader.pluginPIDs()
	require.NoError(t, leader.cmd.Process.Kill())
	killed = time.Now()
	var newLeader string
	waitFor(t, 15*time.Second, "a new leader", func() bool {
		st, ok := rest[0].status(before)
		newLeader = st.LeaderID
		return ok && st.LeaderID != "" && st.LeaderID != leader.id
	})
	t.Logf("SIGKILL of leader %s: new leader %s after %s", leader.id, newLeader, time.Since(killed).Round(time.Millisecond))
	code, b = rest[1].admin().do("POST", "/v2/tokens", map[string]string{"project": "p3", "role": "member"})
	require.Equal(t, http.StatusCreated, code, string(b))
	var madeAfter struct{ Token string }
	require.NoError(t, json.Unmarshal(b, &madeAfter))
	for _, m := range rest {
		for _, tok := range []string{madeBefore.Token, madeAfter.Token} {
			c := &client{t: t, base: "http://" + m.api, token: tok}
			waitFor(t, 5*time.Second, "tokens on "+m.id, func() bool {
				code, _ := c.do("GET", "/v2/meters", nil)
				return code == http.StatusOK
			})
		}
	}
	t.Logf("TestIntegrationCluster took %s", time.Since(began).Round(time.Millisecond))
}
