package main

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestParseQuery(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      string
		want    []queryItem
		wantErr string
	}{
		{name: "empty", in: "", want: nil},
		{name: "eq", in: "resource_id=vm-1", want: []queryItem{{Field: "resource_id", Op: "eq", Value: "vm-1"}}},
		{name: "all operators", in: "a<=1;b>=2;c!=3;d=4;e<5;f>6", want: []queryItem{
			{Field: "a", Op: "le", Value: "1"}, {Field: "b", Op: "ge", Value: "2"},
			{Field: "c", Op: "ne", Value: "3"}, {Field: "d", Op: "eq", Value: "4"},
			{Field: "e", Op: "lt", Value: "5"}, {Field: "f", Op: "gt", Value: "6"},
		}},
		{name: "timestamps", in: "timestamp>2013-05-21T03:18:20;timestamp<=2013-05-21T03:30:20", want: []queryItem{
			{Field: "timestamp", Op: "gt", Value: "2013-05-21T03:18:20"},
			{Field: "timestamp", Op: "le", Value: "2013-05-21T03:30:20"},
		}},
		{name: "typed values", in: "volume>=float::0.5;enabled=boolean::true;name=string::42", want: []queryItem{
			{Field: "volume", Op: "ge", Type: "float", Value: "0.5"},
			{Field: "enabled", Op: "eq", Type: "boolean", Value: "true"},
			{Field: "name", Op: "eq", Type: "string", Value: "42"},
		}},
		{name: "datetime and integer types", in: "timestamp>datetime::2026-01-01T00:00:00;n<integer::3", want: []queryItem{
			{Field: "timestamp", Op: "gt", Type: "datetime", Value: "2026-01-01T00:00:00"},
			{Field: "n", Op: "lt", Type: "integer", Value: "3"},
		}},
		{name: "unknown type prefix stays in the value", in: "x=uuid::abc", want: []queryItem{{Field: "x", Op: "eq", Value: "uuid::abc"}}},
		{name: "type with nothing after it stays in the value", in: "x=string::", want: []queryItem{{Field: "x", Op: "eq", Value: "string::"}}},
		{name: "leftmost operator splits", in: "metadata.a=b<c", want: []queryItem{{Field: "metadata.a", Op: "eq", Value: "b<c"}}},
		{name: "value with equals", in: "metadata.tag==x", want: []queryItem{{Field: "metadata.tag", Op: "eq", Value: "=x"}}},
		{name: "trailing semicolon", in: "a=1;", want: []queryItem{{Field: "a", Op: "eq", Value: "1"}}},
		{name: "value keeps spaces", in: "name=my vm", want: []queryItem{{Field: "name", Op: "eq", Value: "my vm"}}},
		{name: "missing operator", in: "resource_id", wantErr: `bad query term "resource_id": missing operator`},
		{name: "missing field", in: "=vm-1", wantErr: `bad query term "=vm-1": missing field before "="`},
		{name: "missing value", in: "a>=", wantErr: `bad query term "a>=": missing value after ">="`},
		{name: "bad second term", in: "a=1;b", wantErr: `bad query term "b": missing operator`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseQuery(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(tc.want, got))
		})
	}
}

func TestQueryValues(t *testing.T) {
	t.Parallel()
	items, err := parseQuery("project_id=p1;volume>float::0.5")
	require.NoError(t, err)
	want := url.Values{
		"q.field": {"project_id", "volume"},
		"q.op":    {"eq", "gt"},
		"q.type":  {"", "float"},
		"q.value": {"p1", "0.5"},
	}
	require.Empty(t, cmp.Diff(want, queryValues(items)))
	require.Equal(t, "q.field=project_id&q.field=volume&q.op=eq&q.op=gt&q.type=&q.type=float&q.value=p1&q.value=0.5",
		queryValues(items).Encode())
}
