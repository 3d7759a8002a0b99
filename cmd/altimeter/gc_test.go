package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAgentGC: the agent sets its GC target to agentGOGC unless GOGC is
// set in its environment, which then wins.
func TestAgentGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	t.Setenv("GOGC", "")
	agentGC()
	require.Equal(t, agentGOGC, debug.SetGCPercent(100))

	t.Setenv("GOGC", "100")
	agentGC()
	require.Equal(t, 100, debug.SetGCPercent(100), "GOGC in the environment wins")
}
