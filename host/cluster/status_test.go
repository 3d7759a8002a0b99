package cluster

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMemberState: the leader is "leader" also before its own record is
// applied (CLI `cluster status` right after a start showed it "joining"
// while its header said leader); other members follow their record and the
// partition map.
func TestMemberState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		leader, announced, live bool
		want                    string
	}{
		{leader: true, announced: false, live: false, want: "leader"},
		{leader: true, announced: true, live: true, want: "leader"},
		{leader: true, announced: true, live: false, want: "leader"},
		{leader: false, announced: false, live: false, want: "joining"},
		{leader: false, announced: true, live: true, want: "live"},
		{leader: false, announced: true, live: false, want: "suspect"},
	} {
		require.Equal(t, tc.want, memberState(tc.leader, tc.announced, tc.live), "%+v", tc)
	}
}
