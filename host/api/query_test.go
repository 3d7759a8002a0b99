package api

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/sample"
)

func TestSimpleQueryPlan(t *testing.T) {
	t.Parallel()
	row := store.Sample{Sample: sample.Sample{
		Name: "m", ResourceID: "r", ProjectID: "p", Volume: 3, Timestamp: t0,
		Metadata: map[string]string{"size": "7", "on": "True", "name": "web-1", "when": "2024-01-02T03:00:00"},
	}}
	for _, tc := range []struct {
		name       string
		query      url.Values
		wantFilter store.Filter
		// match is nil when there is no residual, else its verdict on row.
		match *bool
	}{
		{"typed integer is pushed as canonical text", url.Values{"q.field": {"metadata.size"}, "q.type": {"integer"}, "q.value": {"007"}},
			store.Filter{Metadata: map[string]string{"size": "7"}}, nil},
		{"typed boolean is pushed as Python's True/False, as metadata is stored", url.Values{"q.field": {"metadata.on"}, "q.type": {"boolean"}, "q.value": {"Yes"}},
			store.Filter{Metadata: map[string]string{"on": "True"}}, nil},
		{"typed float equality is pushed as Python's float text", url.Values{"q.field": {"metadata.size"}, "q.type": {"float"}, "q.value": {"7"}},
			store.Filter{Metadata: map[string]string{"size": "7.0"}}, nil},
		{"untyped text is as given", url.Values{"q.field": {"metadata.on"}, "q.value": {"True"}},
			store.Filter{Metadata: map[string]string{"on": "True"}}, nil},
		{"typed boolean ne compares as a boolean", url.Values{"q.field": {"metadata.on"}, "q.op": {"ne"}, "q.type": {"boolean"}, "q.value": {"false"}},
			store.Filter{}, ptr(true)},
		{"untyped numeric range compares numbers", url.Values{"q.field": {"metadata.size"}, "q.op": {"gt"}, "q.value": {"10"}},
			store.Filter{}, ptr(false)},
		{"typed float range", url.Values{"q.field": {"metadata.size"}, "q.op": {"le"}, "q.type": {"float"}, "q.value": {"7.0"}},
			store.Filter{}, ptr(true)},
		{"string range compares text", url.Values{"q.field": {"metadata.name"}, "q.op": {"lt"}, "q.type": {"string"}, "q.value": {"web-2"}},
			store.Filter{}, ptr(true)},
		{"datetime range", url.Values{"q.field": {"metadata.when"}, "q.op": {"lt"}, "q.type": {"datetime"}, "q.value": {"2024-01-02T04:00:00Z"}},
			store.Filter{}, ptr(true)},
		{"missing metadata key matches nothing", url.Values{"q.field": {"metadata.colour"}, "q.op": {"ne"}, "q.value": {"red"}},
			store.Filter{}, ptr(false)},
		{"empty equality is not a zero filter", url.Values{"q.field": {"resource_id"}, "q.value": {""}},
			store.Filter{}, ptr(false)},
		{"repeated equal values collapse", url.Values{"q.field": {"resource", "resource_id"}, "q.value": {"r", "r"}, "q.op": {"eq", "eq"}},
			store.Filter{ResourceID: "r"}, nil},
		{"timestamp bounds intersect", url.Values{
			"q.field": {"timestamp", "timestamp", "timestamp"}, "q.op": {"ge", "gt", "lt"},
			"q.value": {"2024-01-02T03:00:00", "2024-01-02T03:05:00", "2024-01-02T04:00:00"}},
			store.Filter{Start: t0.Add(5*time.Minute + time.Microsecond), End: t0.Add(time.Hour)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := parseSimpleQuery(tc.query, samplesScope)
			require.NoError(t, err)
			p, err := planQuery(q, samplesScope, "")
			require.NoError(t, err)
			require.Equal(t, tc.wantFilter, p.filter)
			m := p.match()
			if tc.match == nil {
				require.Nil(t, m)
				return
			}
			require.NotNil(t, m)
			require.Equal(t, *tc.match, m(&row))
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestConfine(t *testing.T) {
	t.Parallel()
	q, err := parseSimpleQuery(url.Values{"q.field": {"user"}, "q.value": {"u"}}, samplesScope)
	require.NoError(t, err)
	p, err := planQuery(q, samplesScope, "p1")
	require.NoError(t, err)
	require.Equal(t, store.Filter{UserID: "u", ProjectID: "p1"}, p.filter, "a member is confined even when it names no project")

	root, err := decodeFilter([]byte(`{"or": [{"=": {"project": "p1"}}, {"=~": {"project_id": ".*"}}]}`))
	require.NoError(t, err)
	p = newPlan(root)
	require.ErrorIs(t, p.confine("p1", root), ErrForbidden, "a pattern over projects is refused to a member")
	require.NoError(t, p.confine("", root), "an admin may")
}
