package sysmon

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnv(t *testing.T) {
	for _, c := range []struct {
		in, want []string
		changed  bool
	}{
		{[]string{"A=1"}, []string{"A=1", "GODEBUG=" + Setting}, true},
		{[]string{"GODEBUG=", "A=1"}, []string{"A=1", "GODEBUG=" + Setting}, true},
		{[]string{"GODEBUG=http2client=0", "A=1"}, []string{"A=1", "GODEBUG=http2client=0," + Setting}, true},
		{[]string{"GODEBUG=schedtrace=0"}, []string{"GODEBUG=schedtrace=0"}, false},
		{[]string{"GODEBUG=gctrace=1, schedtrace=1000", "A=1"}, []string{"GODEBUG=gctrace=1, schedtrace=1000", "A=1"}, false},
		{[]string{"GODEBUG=schedtracex=1"}, []string{"GODEBUG=schedtracex=1," + Setting}, true},
	} {
		got, changed := Env(c.in)
		require.Equal(t, c.want, got, "%v", c.in)
		require.Equal(t, c.changed, changed, "%v", c.in)
	}
}
