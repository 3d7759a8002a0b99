package config

import (
	"fmt"
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
	// DefaultDeliveryDelay is how long after a cycle's commits its
	// deliveries start (a member that dies right after committing has then
	// sent nothing: the next owner sends each transition once).
	DefaultDeliveryDelay = 2 * time.Second
	// DefaultTakeoverDelay is how old a pending delivery must be before
	// the alarm's owner runs it in place of the member that committed it;
	// takeoverMargin is what a takeover delay leaves, at least, beyond
	// delivery_delay + webhook_timeout (the committing member's first
	// attempt and the commit of its outcome).
	DefaultTakeoverDelay = 10 * time.Second
	takeoverMargin       = 5 * time.Second
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
	// DeliveryDelay: see DefaultDeliveryDelay; 0 starts each delivery as
	// soon as its transition is committed.
	DeliveryDelay time.Duration
	// TakeoverDelay must exceed DeliveryDelay + WebhookTimeout, so that a
	// live committing member's first attempt is over before another
	// member may take its delivery over. Unset, it is
	// DefaultTakeoverDelay, or DeliveryDelay + WebhookTimeout + 5s when
	// that is longer.
	TakeoverDelay time.Duration
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
		DeliveryDelay: DefaultDeliveryDelay, TakeoverDelay: defaultTakeover(DefaultDeliveryDelay, DefaultWebhookTimeout),
	}
}

// defaultTakeover is the takeover delay when none is set.
func defaultTakeover(delivery, timeout time.Duration) time.Duration {
	return max(DefaultTakeoverDelay, delivery+timeout+takeoverMargin)
}

var alarmSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "evaluation_interval"}, {Name: "history_max_per_alarm"}, {Name: "history_max_age"},
		{Name: "webhook_timeout"}, {Name: "webhook_retries"}, {Name: "webhook_ca_file"},
		{Name: "store_url"}, {Name: "store_token_file"}, {Name: "delivery_delay"}, {Name: "takeover_delay"},
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
	if at, ok := content.Attributes["delivery_delay"]; ok {
		if a.DeliveryDelay = l.duration(at, 0); a.DeliveryDelay > time.Minute {
			l.attrError(at, "Invalid delivery_delay", "delivery_delay is at most 1m: deliveries wait that long after each cycle's commits.")
		}
	}
	a.TakeoverDelay = defaultTakeover(a.DeliveryDelay, a.WebhookTimeout)
	if at, ok := content.Attributes["takeover_delay"]; ok {
		if a.TakeoverDelay = l.duration(at, time.Second); a.TakeoverDelay > 0 && a.TakeoverDelay <= a.DeliveryDelay+a.WebhookTimeout {
			l.attrError(at, "Invalid takeover_delay", fmt.Sprintf(
				"takeover_delay (%s) must be longer than delivery_delay + webhook_timeout (%s): a member that is alive must have made its first attempt before another member may deliver the same transition.",
				a.TakeoverDelay, a.DeliveryDelay+a.WebhookTimeout))
		}
	}
}
