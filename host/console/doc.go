// Package console is the agent's built-in web console, served at /: static
// pages and scripts embedded with go:embed (no Node toolchain builds or
// runs them) that sign in with an API token and read the agent's own APIs:
// meters with search, a chart of a meter over time per resource
// (statistics API, period and statistic choices), resources with their
// metadata history, events with filters, plugins with state, restarts and
// last errors, the cluster's members, and alarms (filtered by state and
// name) with their rule and state history. The chart library (uPlot) is a pinned release file from the
// npm registry, vendored with its licence under static/vendor; nothing is
// fetched at run time.
//
// It holds no data and no tokens: the pages send the user's token with
// each API call, so a member token sees only its project, as everywhere.
// It must not import host/api or the store.
package console
