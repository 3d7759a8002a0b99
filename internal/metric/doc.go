// Package metric is the one mapping from Altimeter's meters to Prometheus
// metrics, shared by everything that shows samples to Prometheus tooling:
// the PromQL query API over the embedded store (host/promapi) and the
// Prometheus remote-write publisher.
//
// A meter name becomes a metric name by replacing every character outside
// [a-zA-Z0-9_:] with "_" (and prefixing "_" to a leading digit), as
// Ceilometer's Prometheus publisher replaces dots: memory.usage becomes
// memory_usage. Each series carries the labels resource_id, project_id,
// user_id, unit and type (gauge, delta or cumulative) and, per resource
// metadata key the operator chose, one label named after the key the same
// way (flavor.name becomes flavor_name). Labels with empty values are left
// out, as Prometheus does. The mapping is not injective: two meters that
// differ only in characters outside the metric alphabet share a name.
//
// The package depends on the standard library only, so plugins can import
// it without dragging in Prometheus.
package metric
