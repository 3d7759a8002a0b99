package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/cluster/fsm"
	"github.com/altimeter/altimeter/sdk/sample"
)

// benchCluster starts n members on loopback (real transport, raft-boltdb
// in temp dirs, fsync on) and returns the leader.
func benchCluster(b *testing.B, n int) *Node {
	b.Helper()
	var first *Node
	var nodes []*Node
	for i := range n {
		cfg := Config{NodeID: fmt.Sprintf("b%d", i), Dir: filepath.Join(b.TempDir(), "raft"), BindAddress: "127.0.0.1:0",
			HeartbeatTimeout: time.Second, Logger: hclog.NewNullLogger()}
		if first != nil {
			cfg.Join = []string{first.Address()}
		}
		node, err := Open(cfg)
		require.NoError(b, err)
		b.Cleanup(func() { _ = node.Close() })
		if first == nil {
			first = node
		}
		nodes = append(nodes, node)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready := true
		for _, node := range nodes {
			ready = ready && len(node.view.Load().live) == n
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d members not live after 30s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, node := range nodes {
		if node.IsLeader() {
			return node
		}
	}
	b.Fatal("no leader")
	return nil
}

// BenchmarkApply measures one command committed and applied through raft,
// one at a time (latency, with p50 and p99), on one member (the baseline:
// the same path with no follower to wait for) and on three.
func BenchmarkApply(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			leader := benchCluster(b, n)
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if err := leader.Apply(ctx, fsm.MemberUpsert{Member: fsm.Member{ID: fmt.Sprintf("x%d", i%64), RaftAddress: "127.0.0.1:1"}}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
		})
	}
}

// BenchmarkApplyBatched keeps 64 applies in flight: raft batches what
// arrives together into one log write and one replication round, so this
// is the throughput a busy leader reaches.
func BenchmarkApplyBatched(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			leader := benchCluster(b, n)
			ctx := context.Background()
			work := make(chan int)
			var wg sync.WaitGroup
			start := time.Now()
			b.ResetTimer()
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range work {
						if err := leader.Apply(ctx, fsm.MemberUpsert{Member: fsm.Member{ID: fmt.Sprintf("x%d", i%64), RaftAddress: "127.0.0.1:1"}}); err != nil {
							b.Error(err)
						}
					}
				}()
			}
			for i := range b.N {
				work <- i
			}
			close(work)
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "applies/s")
		})
	}
}

// BenchmarkRebalance computes the owner of 10,000 central resources over 3
// members (the time per full map), and reports the fraction of resources
// that move when a fourth member joins and when one of the three leaves;
// rendezvous hashing's ideal is 1/4 and 1/3.
func BenchmarkRebalance(b *testing.B) {
	const n = 10_000
	rs := make([]sample.Resource, n)
	for i := range rs {
		id := fmt.Sprintf("snmp://10.%d.%d.%d:161", i>>16, (i>>8)&255, i&255)
		rs[i] = sample.Resource{ID: id, Endpoint: id}
	}
	members := func(ids ...string) []fsm.Member {
		out := make([]fsm.Member, len(ids))
		for i, id := range ids {
			out[i] = fsm.Member{ID: id, Pollsters: []string{"pollster.snmp"}}
		}
		return out
	}
	three, four, two := members("n1", "n2", "n3"), members("n1", "n2", "n3", "n4"), members("n1", "n2")
	owners := make([]string, n)
	b.ResetTimer()
	for range b.N {
		for i := range rs {
			owners[i] = Assign(three, "pollster.snmp", rs[i].ID)
		}
	}
	b.StopTimer()
	joined, left := 0, 0
	for i := range rs {
		if Assign(four, "pollster.snmp", rs[i].ID) != owners[i] {
			joined++
		}
		if Assign(two, "pollster.snmp", rs[i].ID) != owners[i] {
			left++
		}
	}
	b.ReportMetric(float64(joined)/n, "moved-on-join")
	b.ReportMetric(float64(left)/n, "moved-on-leave")
}
