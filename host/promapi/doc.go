// Package promapi serves a Prometheus-compatible HTTP query API
// (/api/v1/query, query_range, series, labels, label values, metadata,
// buildinfo) over the embedded store, so Grafana's Prometheus data source,
// promtool and any Prometheus client read Altimeter's meters.
//
// PromQL is evaluated by Prometheus's own engine (promql) over a
// storage.Queryable adapter on the store (queryable.go): meters become
// metrics through the one shared mapping, internal/metric. A member's
// queries are confined to its project twice over: a project_id matcher is
// added to every selector of the parsed query, and the adapter itself
// never selects another project's series. The engine reads raw samples,
// and for history raw retention removed the series' own roll-ups, each
// bucket as one sample (rollup.go says when that is the raw answer).
// Whole-meter aggregates of *_over_time whose step is their range are
// answered from the store's meter and project statistics, which read
// roll-ups where they hold the range (rollupquery.go).
// Every request is bounded: query length, points per series,
// series per selector, samples read and held, concurrency and time.
//
// It must not import host/api (the api package mounts it and authenticates
// its requests) nor anything of the pipeline.
package promapi
