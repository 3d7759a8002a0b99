package agent

import (
	"fmt"
	"net/http"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/host/console"
	"github.com/altimeter/altimeter/host/promapi"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/internal/metric"
)

// queryAPIs builds the Prometheus query API over the store and the web
// console.
func queryAPIs(cfg *config.Config, st *store.Store, log hclog.Logger, reg prometheus.Registerer, version string) (*promapi.API, http.Handler, error) {
	m, err := metric.New(cfg.Agent.MetricLabels)
	if err != nil {
		return nil, nil, fmt.Errorf("api metric_labels: %w", err)
	}
	prom := promapi.New(promapi.Options{Source: st, Mapping: m, Logger: log, Registerer: reg, Version: version})
	return prom, console.Handler(), nil
}
