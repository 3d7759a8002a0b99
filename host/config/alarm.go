package config

import (
	"net/url"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Defaults of the alarm block.
const (
	DefaultEvaluationInterval = 60 * time.Second
	DefaultAlarmHistory       = 100
	DefaultAlarmHistoryAge    = 30 * 24 * time.Hour
	DefaultWebhookTimeout     = 10 * time.Second
	DefaultWebhookRetries     = 3
	// MaxAlarmHistory bounds history_max_per_alarm.
	MaxAlarmHistory = 10_000
)

// Alarm is the alarm block: evaluation, history bounds and webhook
// delivery. Without a block the defaults apply.
type Alarm struct {
	// EvaluationInterval is how often each member evaluates the alarms
	// it owns.
	EvaluationInterval time.Duration
	// HistoryMaxPerAlarm and HistoryMaxAge bound each alarm's history.
	HistoryMaxPerAlarm int
	HistoryMaxAge      time.Duration
	// WebhookTimeout bounds one delivery attempt; WebhookRetries is the
	// number of attempts after the first.
	WebhookTimeout time.Duration
	WebhookRetries int
	// WebhookCAFile names a PEM bundle trusted for https webhooks, in
	// addition to the system roots.
	WebhookCAFile string
	// StoreURL, when set, is the API of the member that holds the samples
	// (a cluster's store member): rules read statistics there instead of
	// the local store. StoreTokenFile holds a token valid there
	// (default: <data_dir>/admin-token; tokens are cluster-wide).
	StoreURL       string
	StoreTokenFile string
	DefRange       hcl.Range
}

// AlarmDefaults returns the settings of a configuration without an alarm
// block.
func AlarmDefaults() Alarm {
	return Alarm{
		EvaluationInterval: DefaultEvaluationInterval, HistoryMaxPerAlarm: DefaultAlarmHistory,
		HistoryMaxAge: DefaultAlarmHistoryAge, WebhookTimeout: DefaultWebhookTimeout, WebhookRetries: DefaultWebhookRetries,
	}
}

var alarmSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "evaluation_interval"}, {Name: "history_max_per_alarm"}, {Name: "history_max_age"},
		{Name: "webhook_timeout"}, {Name: "webhook_retries"}, {Name: "webhook_ca_file"},
		{Name: "store_url"}, {Name: "store_token_file"},
	},
}

func (l *loader) decodeAlarm(b *hcl.Block) {
	a := AlarmDefaults()
	a.DefRange = b.DefRange
	l.cfg.Alarm = &a
	content, diags := b.Body.Content(alarmSchema)
	l.diags = append(l.diags, diags...)
	if at, ok := content.Attributes["evaluation_interval"]; ok {
		a.EvaluationInterval = l.duration(at, time.Second)
	}
	if at, ok := content.Attributes["history_max_per_alarm"]; ok {
		if a.HistoryMaxPerAlarm = l.positiveInt(at); a.HistoryMaxPerAlarm > MaxAlarmHistory {
			l.attrError(at, "Invalid history_max_per_alarm", "history_max_per_alarm is at most 10000.")
		}
	}
	if at, ok := content.Attributes["history_max_age"]; ok {
		a.HistoryMaxAge = l.duration(at, time.Hour)
	}
	if at, ok := content.Attributes["webhook_timeout"]; ok {
		a.WebhookTimeout = l.duration(at, 100*time.Millisecond)
	}
	if at, ok := content.Attributes["webhook_retries"]; ok {
		a.WebhookRetries = l.positiveInt(at)
	}
	if at, ok := content.Attributes["webhook_ca_file"]; ok {
		a.WebhookCAFile = l.nonEmptyString(at)
	}
	if at, ok := content.Attributes["store_url"]; ok {
		a.StoreURL = l.nonEmptyString(at)
		if u, err := url.Parse(a.StoreURL); a.StoreURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			l.attrError(at, "Invalid store_url", "store_url must be http://host:port or https://host:port (the store member's API).")
		}
	}
	if at, ok := content.Attributes["store_token_file"]; ok {
		a.StoreTokenFile = l.nonEmptyString(at)
	}
}
