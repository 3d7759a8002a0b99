// Package alarm is Aodh's alarm service inside Altimeter: the alarm model
// and its validation, the replicated records (an "alarms" section of the
// cluster FSM with one file per command: create, update, delete, state
// transition, delivery done), the bounded alarm history, the read model the
// API uses, and the evaluation scheduler that runs on every member for the
// alarms it owns and runs their actions once per committed transition.
//
// Rule semantics (host/alarm/rule) and notifiers (host/alarm/action) are
// separate packages; this package reaches them through the small function
// types in service.go and scheduler.go. It must not import host/api or
// host/agent.
package alarm
