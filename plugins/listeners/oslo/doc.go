// Package main is listener.oslo, Ceilometer's notification agent in
// Altimeter: it consumes oslo.messaging notifications (bare v1 bodies and
// v2 envelopes) from the control exchanges of one or more RabbitMQ brokers,
// maps them to samples and events with Ceilometer's meter and event
// definitions (internal/notification), decodes the samples Ceilometer's
// polling agents publish with priority "sample" (checking their
// signatures), and emits them to the host in batches. A delivery is acked
// only once the host has handled its samples and events; a failing meter
// definition loses its own sample only (counted as meter_errors); what
// cannot be decoded, whose event definition fails, or what the host
// rejects goes to a dead-letter exchange with the reason in a header. It
// must not import host packages.
package main
