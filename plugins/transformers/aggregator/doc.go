// Command aggregator is the "aggregator" transformer plugin, after
// Ceilometer's AggregatorTransformer (Pike to Rocky): it merges the samples
// its meters take into one sample per group (name and resource, plus
// project_id and user_id unless a merge policy is given for them), summing
// delta volumes, keeping the last cumulative volume and averaging gauges,
// and lets the merged samples go on once size samples have come in, once
// the first of them is retention_time old, and when the host flushes. What
// it holds is lost if its process dies.
//
// It imports only the SDK and the shared internal/scale and internal/xform;
// it never imports the host.
package main
