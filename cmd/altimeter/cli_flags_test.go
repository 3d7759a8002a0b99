package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLongFlags(t *testing.T) {
	t.Parallel()
	known := map[string]bool{"config": true, "output": true, "trait-name": true, "limit": true}
	for _, tc := range []struct{ in, want []string }{
		{[]string{"agent", "-config", "p.hcl"}, []string{"agent", "--config", "p.hcl"}},
		{[]string{"-config=p.hcl"}, []string{"--config=p.hcl"}},
		{[]string{"-ojson", "-o", "table", "-l10"}, []string{"-ojson", "-o", "table", "-l10"}},
		{[]string{"-trait-name", "x y", "-output=json"}, []string{"--trait-name", "x y", "--output=json"}},
		{[]string{"--limit", "3", "-q", "a=b"}, []string{"--limit", "3", "-q", "a=b"}},
		{[]string{"--", "-config"}, []string{"--", "-config"}},
		{[]string{"-5"}, []string{"-5"}},
	} {
		require.Equal(t, tc.want, longFlags(tc.in, known), tc.in)
	}
}
