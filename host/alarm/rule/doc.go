// Package rule owns Altimeter's alarm rules: parsing and validating them as
// Aodh's v2 API does (Parse, ParseTimeConstraints, FieldError naming the
// field), rendering them as Aodh returns them, and evaluating them with
// Aodh's semantics (Evaluator for polled rules, EvaluateEvent and
// EventRule.Matches for event rules, WithinTimeConstraints).
//
// Evaluation reads data through Source, scoped to the alarm's project;
// NewStoreSource adapts the embedded store (host/store) to it. The rule
// types are threshold (the Ceilometer-API rule, with exclude_outliers as
// the older ThresholdEvaluator had it), the three gnocchi rules mapped
// onto meters, resources and the store's roll-ups, composite, event and
// prometheus. docs/alarm-rules.md states the semantics.
//
// The package keeps no state and no goroutines: scheduling, state,
// history and actions belong to the alarm service (host/alarm) and
// notifiers to host/alarm/action. It must not import host/api, host/agent
// or host/cluster.
package rule
