package agent

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/host/pluginmgr"
	"github.com/altimeter/altimeter/sdk/base"
)

// pluginCounters exposes the counters plugins keep themselves (bad input
// dropped, samples skipped) as altimeter_plugin_events_total{plugin, event},
// read from each running plugin at scrape time.
type pluginCounters struct {
	mgr  *pluginmgr.Manager
	desc *prometheus.Desc
}

func newPluginCounters(mgr *pluginmgr.Manager) *pluginCounters {
	return &pluginCounters{mgr: mgr, desc: prometheus.NewDesc("altimeter_plugin_events_total",
		"Events a plugin counted itself (bad lines, bad signatures, skipped samples), as reported by the plugin.",
		[]string{"plugin", "event"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *pluginCounters) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector. A plugin that is restarting or
// does not answer within a second is left out of this scrape.
func (c *pluginCounters) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, inst := range c.mgr.Instances() {
		if inst.Status().State != pluginmgr.StateRunning {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := inst.Conn(ctx)
			if err != nil {
				return
			}
			counts, err := base.NewClient(conn).Counters(ctx)
			if err != nil {
				return
			}
			for name, v := range counts {
				ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(v), inst.ID(), name)
			}
		}()
	}
	wg.Wait()
}
