package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/peer"
)

// BenchmarkIntegrationPoll measures rounds of 64 targets at a concurrency of
// 64, every default meter, against real snmpd: one snmpd listening on 64
// loopback addresses (so 64 distinct hosts), or 4 snmpd with 16 addresses
// each. One op is one Poll of all 64 targets. Reported: polls/s (rounds),
// target-polls/s, the benchmark process's CPU per round (the pollster; the
// Go test runtime included) and snmpd's CPU per round.
func BenchmarkIntegrationPoll(b *testing.B) {
	peer.Need(b)
	for _, bc := range []struct {
		name    string
		agents  int
		version string
	}{
		{"v2c/1_snmpd", 1, "v2c"},
		{"v3_sha_aes/1_snmpd", 1, "v3"},
		{"v2c/4_snmpd", 4, "v2c"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const targets = 64
			per := targets / bc.agents
			var agents []*peer.Snmpd
			var urls []string
			for a := range bc.agents {
				var hosts []string
				for i := 1; i < per; i++ {
					hosts = append(hosts, fmt.Sprintf("127.0.%d.%d", 10+a, i))
				}
				s, err := peer.StartSnmpd(context.Background(), b.TempDir(), peer.SnmpdOptions{ExtraHosts: hosts})
				require.NoError(b, err)
				b.Cleanup(s.Stop)
				agents = append(agents, s)
				for _, h := range s.Hosts {
					if bc.version == "v3" {
						urls = append(urls, v3URL(s, h, s.SHAAES))
					} else {
						urls = append(urls, v2cURL(s, h))
					}
				}
			}
			require.Len(b, urls, targets)
			p, err := newSNMP(func() config { c := defaultConfig(); c.Concurrency = 64; c.Timeout = "2s"; return c }(), hclog.NewNullLogger())
			require.NoError(b, err)
			b.Cleanup(func() { _ = p.Close(context.Background()) })
			req := request(allMeters(), urls...)
			// Warm up: sessions opened, v3 engines discovered, keys localised.
			out, err := p.Poll(context.Background(), req)
			require.NoError(b, err)
			perRound := len(out)

			cpu0, agent0 := peer.SelfCPU(), agentsCPU(agents)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				out, err := p.Poll(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				if len(out) != perRound {
					b.Fatalf("%d samples, first round had %d", len(out), perRound)
				}
			}
			el := time.Since(start)
			b.StopTimer()
			cpu, agentCPU := peer.SelfCPU()-cpu0, agentsCPU(agents)-agent0
			b.ReportMetric(float64(b.N)/el.Seconds(), "polls/s")
			b.ReportMetric(float64(b.N*targets)/el.Seconds(), "target-polls/s")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/poll")
			b.ReportMetric(float64(agentCPU.Microseconds())/1000/float64(b.N), "snmpd-cpu-ms/poll")
			b.ReportMetric(float64(perRound), "samples/poll")
		})
	}
}

// agentsCPU sums utime+stime of the agents from /proc/<pid>/stat.
func agentsCPU(agents []*peer.Snmpd) time.Duration {
	var total time.Duration
	for _, a := range agents {
		total += peer.ProcessCPU(a.PID())
	}
	return total
}
