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

// alarmBlock is cfg's alarm block, or the defaults.
func alarmBlock(cfg *config.Config) config.Alarm {
	if cfg.Alarm != nil {
		return *cfg.Alarm
	}
	return config.AlarmDefaults()
}

// notifierOptions are the webhook settings of an alarm block.
func notifierOptions(ac config.Alarm) action.Options {
	return action.Options{Timeout: ac.WebhookTimeout, Retries: ac.WebhookRetries, CAFile: ac.WebhookCAFile}
}

// schedulerSettings are the scheduler's settings of an alarm block.
func schedulerSettings(ac config.Alarm) alarm.Settings {
	return alarm.Settings{
		Interval: ac.EvaluationInterval, DeliveryDelay: ac.DeliveryDelay, TakeoverDelay: ac.TakeoverDelay,
		Limits: alarm.HistoryLimits{PerAlarm: ac.HistoryMaxPerAlarm, MaxAge: ac.HistoryMaxAge},
	}
}

// openAlarms builds the alarm service the API serves and the scheduler
// that evaluates this member's share of the alarms, both over the
// cluster member and the embedded store. A reload changes the
// evaluation, delivery and webhook settings (reloadAlarms); the rest of
// the block is read at start.
func (a *Agent) openAlarms(cfg *config.Config, prom *promapi.API) (*alarm.Service, error) {
	ac := alarmBlock(cfg)
	a.alarmCfg = ac
	set := schedulerSettings(ac)
	limits := set.Limits
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
	no := notifierOptions(ac)
	no.Logger, no.Registerer = a.log.Named("alarm"), a.reg
	notifier, err := action.New(no)
	if err != nil {
		return nil, fmt.Errorf("alarm notifier: %w", err)
	}
	a.notifier = notifier
	a.alarms = alarm.NewScheduler(alarm.SchedulerOptions{
		Node: a.node, Owns: a.node.OwnsAlarm, Evaluator: rule.NewEvaluator(src, a.log.Named("alarm")),
		Notifier: notifier, Interval: set.Interval, DeliveryDelay: set.DeliveryDelay, TakeoverDelay: set.TakeoverDelay,
		Limits: limits, Logger: a.log, Registerer: a.reg,
	})
	svc := alarm.NewService(a.node, alarm.Checker{Source: src}, limits)
	svc.Register(a.reg)
	return svc, nil
}

// checkAlarms reports what reloadAlarms would refuse in cfg's alarm block
// (the HCL is valid already: an unreadable webhook CA file).
func checkAlarms(cfg *config.Config) error {
	if err := action.CheckOptions(notifierOptions(alarmBlock(cfg))); err != nil {
		return fmt.Errorf("alarm block: %w", err)
	}
	return nil
}

// reloadAlarms applies the alarm block of cfg on a reload: the evaluation
// interval, the delivery and takeover delays and the webhook settings.
// Pending deliveries stay as they are (they are in the cluster state;
// those this member is running or waiting to start go on). History
// limits and store_url are read at start: a change of them is logged and
// waits for a restart.
func (a *Agent) reloadAlarms(cfg *config.Config) error {
	next, cur := alarmBlock(cfg), a.alarmCfg
	if err := a.notifier.Reconfigure(notifierOptions(next)); err != nil {
		return fmt.Errorf("alarm block: %w", err)
	}
	set := schedulerSettings(next)
	set.Limits = a.alarms.Settings().Limits // as the API service's, fixed at start
	a.alarms.Reconfigure(set)
	if next.HistoryMaxPerAlarm != cur.HistoryMaxPerAlarm || next.HistoryMaxAge != cur.HistoryMaxAge ||
		next.StoreURL != cur.StoreURL || next.StoreTokenFile != cur.StoreTokenFile {
		a.log.Warn("alarm history limits and store_url changed: they apply at the next start")
		next.HistoryMaxPerAlarm, next.HistoryMaxAge = cur.HistoryMaxPerAlarm, cur.HistoryMaxAge
		next.StoreURL, next.StoreTokenFile = cur.StoreURL, cur.StoreTokenFile
	}
	a.alarmCfg = next
	return nil
}

// alarmEvents hands events the store publisher wrote to the event alarms.
func (a *Agent) alarmEvents(ctx context.Context, evs []sample.Event) {
	if a.alarms != nil {
		a.alarms.Events(ctx, evs)
	}
}
