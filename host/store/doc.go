// Package store is Altimeter's embedded store: samples, resources and events
// under data_dir, written by the built-in store publisher and read by the
// REST API. It hides two engines (see docs/architecture.md and design.md,
// Storage): time series in Pebble (package series: compressed chunks and
// roll-ups) and the resource index, metadata history and events in SQLite
// (package index).
//
// This package owns the contract the API reads through (Reader) and the
// facade that combines the engines (Store). It must not import host/api,
// host/pipeline or plugins.
package store
