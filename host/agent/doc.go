// Package agent wires the daemon together: it loads the pipelines, scans
// the plugin directory, launches the plugin instances the pipelines
// reference, builds and runs the pipeline graph, serves the HTTP API, and
// reloads on SIGHUP (build and validate the new graph, swap it in, keep the
// old one if anything fails). Shutdown stops dependants before their
// dependencies: sources, then sinks (draining), then the API (its handlers
// finished, or their store reads cancelled), then plugins, then the store,
// which waits for the reads still running before it closes its engines.
package agent
