package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMeterFilter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		patterns []string
		match    []string
		noMatch  []string
	}{
		{name: "wildcard", patterns: []string{"*"}, match: []string{"cpu", "hardware.cpu.util", ""}},
		{name: "exact", patterns: []string{"cpu"}, match: []string{"cpu"}, noMatch: []string{"cpu_util", "cpu.delta", "CPU"}},
		{name: "glob with dots", patterns: []string{"hardware.*"}, match: []string{"hardware.cpu.util", "hardware."}, noMatch: []string{"hardware", "hardwareXcpu"}},
		{name: "dot is ordinary", patterns: []string{"disk.read.*"}, match: []string{"disk.read.bytes"}, noMatch: []string{"diskXread.bytes"}},
		{name: "question mark", patterns: []string{"cpu?"}, match: []string{"cpu1"}, noMatch: []string{"cpu", "cpu12"}},
		{name: "several inclusions", patterns: []string{"cpu", "memory.*"}, match: []string{"cpu", "memory.usage"}, noMatch: []string{"disk.read.bytes"}},
		{name: "only exclusions means everything else", patterns: []string{"!cpu", "!disk.*"}, match: []string{"memory.usage", "cpu_util"}, noMatch: []string{"cpu", "disk.read.bytes"}},
		{name: "wildcard and exclusion", patterns: []string{"*", "!cpu"}, match: []string{"memory", "cpu.delta"}, noMatch: []string{"cpu"}},
		{name: "exclusion before wildcard", patterns: []string{"!cpu", "*"}, match: []string{"memory"}, noMatch: []string{"cpu"}},
		{name: "fnmatch negated class", patterns: []string{"disk.[!w]*"}, match: []string{"disk.read.bytes"}, noMatch: []string{"disk.write.bytes"}},
		{name: "class", patterns: []string{"disk.[rw]*"}, match: []string{"disk.read.bytes", "disk.write.bytes"}, noMatch: []string{"disk.usage"}},
		{name: "caret in class is literal", patterns: []string{"a[^b]"}, match: []string{"a^", "ab"}, noMatch: []string{"ac"}},
		{name: "backslash is literal", patterns: []string{`a\*`}, match: []string{`a\`, `a\xyz`}, noMatch: []string{"a*"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := NewMeterFilter(tc.patterns)
			require.NoError(t, err)
			for _, m := range tc.match {
				require.True(t, f.Match(m), "%q should match", m)
			}
			for _, m := range tc.noMatch {
				require.False(t, f.Match(m), "%q should not match", m)
			}
		})
	}
}

func TestMeterFilterErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		patterns []string
		index    int
		summary  string
	}{
		{name: "empty list", patterns: nil, index: -1, summary: "Invalid meter pattern"},
		{name: "include then exclude", patterns: []string{"cpu", "!disk.*"}, index: 1, summary: "Both included and excluded meters specified"},
		{name: "exclude then include", patterns: []string{"!disk.*", "cpu"}, index: 1, summary: "Both included and excluded meters specified"},
		{name: "wildcard then include", patterns: []string{"*", "cpu"}, index: 1, summary: "Included meters specified with wildcard"},
		{name: "include then wildcard", patterns: []string{"cpu", "*"}, index: 1, summary: "Included meters specified with wildcard"},
		{name: "unclosed class", patterns: []string{"cpu", "disk.[rw"}, index: 1, summary: "Invalid meter pattern"},
		{name: "unclosed excluded class", patterns: []string{"!disk.[rw"}, index: 0, summary: "Invalid meter pattern"},
		{name: "empty", patterns: []string{""}, index: 0, summary: "Invalid meter pattern"},
		{name: "bare bang", patterns: []string{"!"}, index: 0, summary: "Invalid meter pattern"},
		{name: "slash", patterns: []string{"a/b"}, index: 0, summary: "Invalid meter pattern"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewMeterFilter(tc.patterns)
			require.Error(t, err)
			pe, ok := err.(*PatternError)
			require.True(t, ok, "%T", err)
			require.Equal(t, tc.index, pe.Index)
			require.Equal(t, tc.summary, pe.Summary())
		})
	}
}

func TestMeterFilterInclusions(t *testing.T) {
	t.Parallel()
	f, err := NewMeterFilter([]string{"disk.[!w]*", "cpu"})
	require.NoError(t, err)
	require.Equal(t, []string{"disk.[!w]*", "cpu"}, f.Inclusions())
	require.True(t, MatchGlob("disk.[!w]*", "disk.read"))
	require.False(t, MatchGlob("disk.[", "disk.["))
}
