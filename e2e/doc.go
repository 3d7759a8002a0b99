// Package e2e holds the tests that run Altimeter as a user does: the real
// bin/altimeter and plugin binaries as separate processes (built once in
// TestMain), talking over loopback. They kill plugins and the agent with
// SIGKILL, reload with SIGHUP, and check what /v2/plugins, /metrics and the
// publishers' output show. go test -short skips them.
package e2e
