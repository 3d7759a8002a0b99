// Command rate_of_change is the "rate_of_change" transformer plugin, after
// Ceilometer's RateOfChangeTransformer (Pike to Rocky): for each series
// (sample name and resource, as Ceilometer keyed its cache) it remembers
// the previous sample and turns the next one into its rate of change per
// second, multiplied by a scale expression and capped by max, renamed,
// re-united and re-typed: cpu_util from cpu, disk and network rates from
// their counters. A cumulative counter that went down was reset: the new
// volume is the growth. The first sample of a series, and a sample not
// newer than the previous one, give no output and are counted. State is
// bounded (idle expiry, max_series) and lost when the process restarts.
// It implements transformer.RawTransformer, so the SDK hands it batches as
// bytes; TransformRaw runs the same logic as Transform.
//
// It imports only the SDK and the shared internal/scale and internal/xform;
// it never imports the host.
package main
