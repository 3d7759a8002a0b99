package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/altimeter/altimeter/host/alarm"
	"github.com/altimeter/altimeter/host/alarm/action"
	"github.com/altimeter/altimeter/host/alarm/apisource"
	"github.com/altimeter/altimeter/host/alarm/rule"
	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/config"
	"github.com/altimeter/altimeter/host/promapi"
	"github.com/altimeter/altimeter/sdk/sample"
)

// openAlarms builds the alarm service the API serves and the scheduler
// that evaluates this member's share of the alarms, both over the
// cluster member and the embedded store. The alarm block is read at
// start (a reload does not change it).
func (a *Agent) openAlarms(cfg *config.Config, prom *promapi.API) (*alarm.Service, error) {
	ac := config.AlarmDefaults()
	if cfg.Alarm != nil {
		ac = *cfg.Alarm
	}
	limits := alarm.HistoryLimits{PerAlarm: ac.HistoryMaxPerAlarm, MaxAge: ac.HistoryMaxAge}
	local := rule.NewStoreSource(a.store, storeOptions(cfg).Series)
	var (
		src    rule.Source = local
		promql rule.PromQLSource
	)
	if prom != nil {
		// prometheus rules run PromQL through the agent's own query API,
		// confined to the alarm's project.
		promql = rule.NewEmbeddedPromQL(prom)
	}
	if ac.StoreURL != "" {
		// Another member holds the samples: read them through its API.
		tokenFile := ac.StoreTokenFile
		if tokenFile == "" {
			tokenFile = filepath.Join(cfg.Agent.DataDir, auth.AdminTokenFile)
		}
		remote, err := apisource.New(ac.StoreURL, func() (string, error) {
			b, err := os.ReadFile(tokenFile)
			return strings.TrimSpace(string(b)), err
		}, local.Granularities, nil)
		if err != nil {
			return nil, fmt.Errorf("alarm store_url: %w", err)
		}
		// prometheus rules too run on the store member's query API,
		// where the samples are, confined to the alarm's project.
		src, promql = remote, remote
	}
	if promql != nil {
		src = rule.WithPromQL(src, promql)
	}
	notifier, err := action.New(action.Options{
		Timeout: ac.WebhookTimeout, Retries: ac.WebhookRetries, CAFile: ac.WebhookCAFile,
		Logger: a.log.Named("alarm"), Registerer: a.reg,
	})
	if err != nil {
		return nil, fmt.Errorf("alarm notifier: %w", err)
	}
	a.alarms = alarm.NewScheduler(alarm.SchedulerOptions{
		Node: a.node, Owns: a.node.OwnsAlarm, Evaluator: rule.NewEvaluator(src, a.log.Named("alarm")),
		Notifier: notifier, Interval: ac.EvaluationInterval, Limits: limits, Logger: a.log, Registerer: a.reg,
	})
	svc := alarm.NewService(a.node, alarm.Checker{Source: src}, limits)
	svc.Register(a.reg)
	return svc, nil
}

// alarmEvents hands events the store publisher wrote to the event alarms.
func (a *Agent) alarmEvents(ctx context.Context, evs []sample.Event) {
	if a.alarms != nil {
		a.alarms.Events(ctx, evs)
	}
}
