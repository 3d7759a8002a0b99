package pluginmgr

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	up       *prometheus.GaugeVec
	starts   *prometheus.CounterVec
	restarts *prometheus.CounterVec
	exits    *prometheus.CounterVec
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "altimeter_plugin_up",
			Help: "1 while the plugin instance's process is running and configured.",
		}, []string{"plugin"}),
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_plugin_starts_total",
			Help: "Plugin processes started, including failed starts.",
		}, []string{"plugin"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_plugin_restarts_total",
			Help: "Restart attempts after an unexpected plugin exit.",
		}, []string{"plugin"}),
		exits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "altimeter_plugin_unexpected_exits_total",
			Help: "Plugin processes that exited without being stopped.",
		}, []string{"plugin"}),
	}
	if r != nil {
		m.up = register(r, m.up)
		m.starts = register(r, m.starts)
		m.restarts = register(r, m.restarts)
		m.exits = register(r, m.exits)
	}
	return m
}

// register registers c, or reuses the collector already registered under
// the same descriptor (a second Manager on the same registry).
func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // programmer error: a conflicting metric of the same name
	}
	return c
}

func (m *metrics) init(id string) {
	m.up.WithLabelValues(id).Set(0)
	m.starts.WithLabelValues(id)
	m.restarts.WithLabelValues(id)
	m.exits.WithLabelValues(id)
}

func (m *metrics) forget(id string) {
	m.up.DeleteLabelValues(id)
	m.starts.DeleteLabelValues(id)
	m.restarts.DeleteLabelValues(id)
	m.exits.DeleteLabelValues(id)
}
