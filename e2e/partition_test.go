package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

// netns is a network namespace the test created, with a veth end in it.
type netns struct {
	name, veth, addr string
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
}

// twoNamespaces creates namespaces A and B joined by a veth pair,
// 198.18.0.1/30 in A and 198.18.0.2/30 in B (RFC 2544 benchmark addresses,
// which exist only inside these namespaces), and removes both, with the
// veth, when the test ends.
func twoNamespaces(t *testing.T) (a, b netns) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the partition test needs root to create network namespaces (CI runs as root)")
	}
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	a = netns{name: "alt-a-" + id, veth: "altva" + id, addr: "198.18.0.1"}
	b = netns{name: "alt-b-" + id, veth: "altvb" + id, addr: "198.18.0.2"}
	t.Cleanup(func() {
		for _, n := range []netns{a, b} {
			if out, err := exec.Command("ip", "netns", "del", n.name).CombinedOutput(); err != nil {
				t.Logf("ip netns del %s: %v: %s", n.name, err, out)
			}
		}
		// The veth pair goes with its namespaces; nothing is left behind.
		out, _ := exec.Command("ip", "-o", "link", "show").CombinedOutput()
		if strings.Contains(string(out), "altv"+id) {
			t.Errorf("veth %s left behind", "altv"+id)
		}
	})
	ipCmd(t, "netns", "add", a.name)
	ipCmd(t, "netns", "add", b.name)
	ipCmd(t, "link", "add", a.veth, "type", "veth", "peer", "name", b.veth)
	for _, n := range []netns{a, b} {
		ipCmd(t, "link", "set", n.veth, "netns", n.name)
		ipCmd(t, "-n", n.name, "addr", "add", n.addr+"/30", "dev", n.veth)
		ipCmd(t, "-n", n.name, "link", "set", n.veth, "up")
		ipCmd(t, "-n", n.name, "link", "set", "lo", "up")
	}
	return a, b
}

// nsAgent is an agent process inside a namespace; the test reaches its API
// (on the namespace's own loopback) with curl run inside it.
type nsAgent struct {
	t      *testing.T
	ns     netns
	id     string
	dir    string
	api    string
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
	token  string
}

func startNSAgent(t *testing.T, ns netns, id string, apiPort, raftPort int, join, body string) *nsAgent {
	t.Helper()
	a := &nsAgent{t: t, ns: ns, id: id, dir: t.TempDir(), api: fmt.Sprintf("127.0.0.1:%d", apiPort), log: &syncBuffer{}}
	joinLine := ""
	if join != "" {
		joinLine = fmt.Sprintf("%q", join)
	}
	cfg := fmt.Sprintf(memberTmpl, id, fmt.Sprintf("%s:%d", ns.addr, raftPort), joinLine, body)
	cfg = strings.NewReplacer("{{API}}", a.api, "{{DATA}}", filepath.Join(a.dir, "data"), "{{PLUGINS}}", filepath.Join(binDir, "plugins")).Replace(cfg)
	require.NoError(t, os.WriteFile(filepath.Join(a.dir, "pipelines.hcl"), []byte(cfg), 0o644))
	a.exited = make(chan struct{})
	a.cmd = exec.Command("ip", "netns", "exec", ns.name, filepath.Join(binDir, "altimeter"), "agent", "-config", filepath.Join(a.dir, "pipelines.hcl"), "-log-level", "debug")
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	require.NoError(t, a.cmd.Start())
	go func() {
		_ = a.cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(a.stop)
	waitFor(t, 30*time.Second, id+" ready", func() bool {
		select {
		case <-a.exited:
			t.Fatalf("%s exited during startup:\n%s", id, a.log.String())
		default:
		}
		code, _ := a.get("/healthz")
		return code == 200
	})
	b, err := os.ReadFile(filepath.Join(a.dir, "data", "admin-token"))
	require.NoError(t, err)
	a.token = strings.TrimSpace(string(b))
	return a
}

// get runs curl inside the agent's namespace; code 0 means no answer.
func (a *nsAgent) get(path string) (int, []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	args := []string{"netns", "exec", a.ns.name, "curl", "-s", "-m", "2", "-w", "\n%{http_code}"}
	if a.token != "" {
		args = append(args, "-H", "X-Auth-Token: "+a.token)
	}
	out, err := exec.CommandContext(ctx, "ip", append(args, "http://"+a.api+path)...).Output()
	if err != nil {
		return 0, nil
	}
	i := bytes.LastIndexByte(out, '\n')
	code, _ := strconv.Atoi(strings.TrimSpace(string(out[i+1:])))
	return code, out[:i]
}

func (a *nsAgent) metric(series string) float64 {
	_, b := a.get("/metrics")
	return metric(string(b), series)
}

type partitionView struct {
	Epoch     uint64         `json:"epoch"`
	Live      []string       `json:"live"`
	Counts    map[string]int `json:"counts"`
	Resources []struct {
		Resource, Owner string
	} `json:"resources"`
}

func (a *nsAgent) partitions() (partitionView, bool) {
	code, b := a.get("/v2/cluster/partitions")
	var p partitionView
	return p, code == 200 && json.Unmarshal(b, &p) == nil
}

func (a *nsAgent) polls() []poll {
	return readPollFile(a.t, a.id, filepath.Join(a.dir, "data", "polls.jsonl"))
}

// stop ends the agent (SIGTERM, then SIGKILL, by PID); its plugins exit
// with it (parent-death signal).
func (a *nsAgent) stop() {
	select {
	case <-a.exited:
	default:
		_ = a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.exited:
		case <-time.After(15 * time.Second):
			a.t.Errorf("%s did not stop within 15s of SIGTERM", a.id)
			_ = a.cmd.Process.Kill()
			<-a.exited
		}
	}
	if a.t.Failed() {
		a.t.Logf("%s output:\n%s", a.id, a.log.String())
	}
}

// startSnmpdIn runs snmpd inside ns on its veth address.
func startSnmpdIn(t *testing.T, ns netns) (community string, port int) {
	t.Helper()
	dir := t.TempDir()
	community = "c-" + hex.EncodeToString([]byte(ns.name))[:8]
	port = 16161
	conf := filepath.Join(dir, "snmpd.conf")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf("agentAddress udp:%s:%d\nrocommunity %s 198.18.0.0/30\nsysLocation altimeter-partition\n", ns.addr, port, community)), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "persist"), 0o700))
	p, err := peer.Start("snmpd", dir, []string{"MIBS=", "SNMP_PERSISTENT_DIR=" + filepath.Join(dir, "persist")},
		"ip", "netns", "exec", ns.name, "/usr/sbin/snmpd", "-f", "-C", "-c", conf, "-Lf", filepath.Join(dir, "agent.log"))
	require.NoError(t, err)
	t.Cleanup(p.Stop)
	waitFor(t, 15*time.Second, "snmpd in "+ns.name, func() bool {
		cmd := exec.Command("ip", "netns", "exec", ns.name, "snmpget", "-v2c", "-c", community, "-t", "0.2", "-r", "0",
			fmt.Sprintf("%s:%d", ns.addr, port), "1.3.6.1.2.1.1.3.0")
		cmd.Env = append(os.Environ(), "MIBS=")
		return cmd.Run() == nil
	})
	return community, port
}

// TestIntegrationClusterPartition puts two members in namespace A (with
// the SNMP targets) and one in namespace B, joined by a veth pair, then
// cuts the link: the minority gives its share up within its lease and the
// majority takes it; healed, the member rejoins and the map converges.
func TestIntegrationClusterPartition(t *testing.T) {
	skipShort(t)
	began := time.Now()
	nsA, nsB := twoNamespaces(t)
	community, port := startSnmpdIn(t, nsA)
	var urls []string
	for i := range 12 {
		urls = append(urls, fmt.Sprintf("%q", fmt.Sprintf("snmp://%s@%s:%d?resource_id=t%02d", community, nsA.addr, port, i)))
	}
	body := fmt.Sprintf(pollingTmpl, strings.Join(urls, ", "), "")
	a1 := startNSAgent(t, nsA, "a1", 18777, 18301, "", body)
	a2 := startNSAgent(t, nsA, "a2", 18778, 18302, nsA.addr+":18301", body)
	b1 := startNSAgent(t, nsB, "b1", 18777, 18303, nsA.addr+":18301", body)
	var view partitionView
	waitFor(t, 30*time.Second, "three members sharing the 12 targets", func() bool {
		p, ok := a1.partitions()
		view = p
		return ok && len(p.Live) == 3 && p.Counts["a1"] > 0 && p.Counts["a2"] > 0 && p.Counts["b1"] > 0 &&
			p.Counts["a1"]+p.Counts["a2"]+p.Counts["b1"] == 12
	})
	waitFor(t, 15*time.Second, "b1 polling its share across the veth", func() bool { return len(b1.polls()) > 0 })
	t.Logf("3 members in 2 namespaces up after %s; b1 owns %d of 12", time.Since(began).Round(time.Millisecond), view.Counts["b1"])

	// Cut the link.
	epoch0 := view.Epoch
	ipCmd(t, "-n", nsB.name, "link", "set", nsB.veth, "down")
	cut := time.Now()
	waitFor(t, clusterHB+5*time.Second, "b1 giving its share up", func() bool {
		return b1.metric("altimeter_cluster_lease_held") == 0
	})
	gaveUp := time.Since(cut)
	var epochAt time.Duration
	waitFor(t, failoverBound+10*time.Second, "the majority's map without b1", func() bool {
		p, ok := a1.partitions()
		if ok && p.Epoch > epoch0 && len(p.Live) == 2 && p.Counts["a1"]+p.Counts["a2"] == 12 {
			epochAt = time.Since(cut)
			return true
		}
		return false
	})
	var pickedUp time.Duration
	waitFor(t, failoverBound+10*time.Second, "b1's targets polled by the majority", func() bool {
		first := map[string]time.Duration{}
		for _, p := range append(a1.polls(), a2.polls()...) {
			if d := p.at.Sub(cut); d > 0 && view.ownerOf(p.resource) == "b1" {
				if prev, ok := first[p.resource]; !ok || d < prev {
					first[p.resource] = d
				}
			}
		}
		if len(first) < view.Counts["b1"] {
			return false
		}
		for _, d := range first {
			pickedUp = max(pickedUp, d)
		}
		return true
	})
	// The minority polls nothing while cut off: its per-target error count
	// (every poll of an unreachable target) stays put.
	errs := b1.metric(`altimeter_source_errors_total{kind="resource",plugin="pollster.snmp",source="central"}`)
	time.Sleep(2 * clusterInterval) //nolint: the window in which nothing may happen
	require.Equal(t, errs, b1.metric(`altimeter_source_errors_total{kind="resource",plugin="pollster.snmp",source="central"}`),
		"b1 kept polling after giving its share up")
	t.Logf("cut: b1 gave up after %s, majority epoch after %s, b1's share polled by the majority after %s (bound %s)",
		gaveUp.Round(time.Millisecond), epochAt.Round(time.Millisecond), pickedUp.Round(time.Millisecond), failoverBound)
	require.LessOrEqual(t, pickedUp, failoverBound+clusterInterval)

	// Heal: b1 rejoins and the map converges.
	ipCmd(t, "-n", nsB.name, "link", "set", nsB.veth, "up")
	healed := time.Now()
	waitFor(t, 30*time.Second, "b1 back in the map, with its share", func() bool {
		p, ok := a1.partitions()
		pb, okb := b1.partitions()
		return ok && okb && len(p.Live) == 3 && p.Counts["b1"] > 0 && pb.Epoch == p.Epoch &&
			b1.metric("altimeter_cluster_lease_held") == 1
	})
	waitFor(t, 15*time.Second, "b1 polling again", func() bool {
		for _, p := range b1.polls() {
			if p.at.After(healed) {
				return true
			}
		}
		return false
	})
	t.Logf("healed: b1 back and polling after %s; TestIntegrationClusterPartition took %s",
		time.Since(healed).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// ownerOf maps a polled resource id (the target's resource_id) to its
// owner in the view.
func (v partitionView) ownerOf(resourceID string) string {
	for _, r := range v.Resources {
		if strings.HasSuffix(r.Resource, "resource_id="+resourceID) {
			return r.Owner
		}
	}
	return ""
}
