// Package action delivers alarm actions (Aodh's notifiers): http:// and
// https:// webhooks with Aodh's JSON body, log://, and trust+http(s)://
// treated as http(s) with the credentials stripped (Altimeter has no
// Keystone to obtain a trust from).
//
// A Notifier sends one notification per call, retrying with backoff within
// a per-attempt timeout, and counts outcomes in
// altimeter_alarm_actions_total{scheme,outcome}. Each receiver (scheme and
// host) has its own lane with bounded concurrency and a bounded number of
// waiting notifications, so a slow or hanging receiver delays only its own
// notifications. Every request carries the transition id (header
// X-Altimeter-Transition-Id and body key "transition_id") so receivers can
// drop a redelivery.
//
// The package knows nothing of alarm state or the cluster; the alarm
// service decides when a transition's actions run and records the
// outcome. It must not import host/api, host/agent or host/cluster.
package action
