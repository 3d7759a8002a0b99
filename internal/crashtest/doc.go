// Package crashtest is the harness of the stores' SIGKILL tests: a test
// binary runs itself as a child process that writes until it is killed,
// and the test then checks what the reopened store kept against what the
// child had acknowledged.
//
// A package's TestMain calls Main with its writers; a test calls KillAfter.
// It is imported only by tests. It must not import host/ or plugins/.
package crashtest
