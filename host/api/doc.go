// Package api is the agent's HTTP server (gin): /healthz, /metrics
// (Prometheus exposition), /v2/plugins, /v2/openapi.json and the Ceilometer
// v2 data endpoints (/v2/meters, /v2/meters/{name}, its statistics,
// /v2/samples, /v2/resources, /v2/query/samples, /v2/capabilities) and the
// Panko v2 event endpoints (/v2/events, /v2/event_types; events.go) with
// Ceilometer's and Panko's paths, query syntax and JSON shapes, so their
// clients keep working.
//
// Server setup (server.go): timeouts and a connection limit (Limits), TLS
// with optional mutual TLS, links built from Options.PublicURL or the
// listen address, never the Host header. /healthz and /openapi.json are
// open, /metrics too unless MetricsRequireToken, /v2/plugins is admin only.
// POST /v2/meters/{name} writes through store.ProjectWriter as the token's
// project: another project's resource is a 409, message ids are per
// project, and no sample is answered 201 unless stored.
//
// Handlers are thin: they read through the narrow interfaces they are given
// (store.Reader, store.ProjectWriter, store.EventReader, Authenticator,
// PluginLister) and render; errors become responses in exactly one function
// (errors.go), in Ceilometer's envelope. Queries, simple and complex, are
// decoded into one expression tree (expr.go); the conditions the store
// indexes become a store.Filter and the rest a ListOptions.Match predicate.
// Event queries become a store.EventFilter. A member token is confined to
// its project on every data and event endpoint.
//
// Every request is bounded (limits.go): a page by MaxLimit, a posted
// sample's metadata by MaxMetadataBytes, a query by MaxQueryLeaves, a
// statistics answer by MaxGroups, a read by QueryTimeout and by its
// client (the store's scans observe the request context). Listings are
// streamed row by row. Posted timestamps are checked against what the
// store holds and keeps before anything is written.
//
// It must not import pluginmgr or pipeline directly; the agent adapts them.
package api
