// Package api is the agent's HTTP server (gin): /healthz, /metrics
// (Prometheus exposition) and the v2 endpoints. Handlers are thin: they read
// through the narrow interfaces declared here and render; errors become
// responses in exactly one function (errors.go). It must not import
// pluginmgr or pipeline directly; the agent adapts them.
package api
