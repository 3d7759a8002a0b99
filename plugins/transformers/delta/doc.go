// Command delta is the "delta" transformer plugin, after Ceilometer's
// DeltaTransformer (Pike to Rocky): for each series (sample name and
// resource) it remembers the previous sample and turns the next one into a
// delta sample holding the difference, renamed as configured; with
// growth_only, a negative difference gives nothing (Ceilometer's cpu.delta
// sink). The first sample of a series and an older sample give nothing and
// are counted. State is bounded (idle expiry, max_series) and lost when the
// process restarts.
//
// It imports only the SDK and the shared internal/xform; it never imports
// the host.
package main
