package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAPILimits(t *testing.T) {
	t.Parallel()
	src := "agent {\n  api {\n    max_limit = 500\n    max_metadata_bytes = 4096\n    max_query_leaves = 20\n    max_groups = 300\n    max_buckets = 7000\n    query_timeout = \"15s\"\n  }\n}\n"
	c, diags := Parse("mem.hcl", []byte(src))
	require.Empty(t, diags, Format(diags))
	require.Equal(t, APILimits{MaxLimit: 500, MaxMetadataBytes: 4096, MaxQueryLeaves: 20, MaxGroups: 300, MaxBuckets: 7000, QueryTimeout: 15 * time.Second}, c.Agent.APILimits)

	c, diags = Parse("mem.hcl", []byte("agent {\n  api {}\n}\n"))
	require.Empty(t, diags)
	require.Equal(t, APILimits{}, c.Agent.APILimits, "no attributes: the API's defaults")

	for src, want := range map[string]string{
		"agent {\n  api {\n    max_limit = 0\n  }\n}\n":            "mem.hcl:3:17: Invalid max_limit: max_limit must be a positive whole number.\n",
		"agent {\n  api {\n    max_groups = -3\n  }\n}\n":          "mem.hcl:3:18: Invalid max_groups: max_groups must be a positive whole number.\n",
		"agent {\n  api {\n    query_timeout = \"10ms\"\n  }\n}\n": "mem.hcl:3:21: Invalid query_timeout: query_timeout: must be at least 1s; write e.g. \"90s\", \"1h\" or \"7d\".\n",
	} {
		_, diags := Parse("mem.hcl", []byte(src))
		require.Equal(t, want, Format(diags), src)
	}
}
