package rule

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseTimeConstraints(t *testing.T) {
	t.Parallel()
	tcs, err := ParseTimeConstraints(json.RawMessage(`[{"name":"night","start":"0 23 * * *","duration":10800,"timezone":"Europe/Ljubljana"},{"name":"d","description":"mine","start":"@hourly","duration":"60"}]`))
	require.NoError(t, err)
	require.Equal(t, []TimeConstraint{
		{Name: "night", Description: "Time constraint at 0 23 * * * lasting for 10800 seconds", Start: "0 23 * * *", Duration: 10800, Timezone: "Europe/Ljubljana"},
		{Name: "d", Description: "mine", Start: "@hourly", Duration: 60},
	}, tcs)
	tcs, err = ParseTimeConstraints(nil)
	require.NoError(t, err)
	require.Empty(t, tcs)

	bad := []struct{ in, field string }{
		{`{"name":"a"}`, "time_constraints"},
		{`[{"start":"0 23 * * *","duration":1}]`, "time_constraints[0].name"},
		{`[{"name":"a","duration":1}]`, "time_constraints[0].start"},
		{`[{"name":"a","start":"61 * * * *","duration":1}]`, "time_constraints[0].start"},
		{`[{"name":"a","start":"not cron","duration":1}]`, "time_constraints[0].start"},
		{`[{"name":"a","start":"* * * * * *","duration":1}]`, "time_constraints[0].start"},
		{`[{"name":"a","start":"0 23 * * *"}]`, "time_constraints[0].duration"},
		{`[{"name":"a","start":"0 23 * * *","duration":-1}]`, "time_constraints[0].duration"},
		{`[{"name":"a","start":"0 23 * * *","duration":1,"timezone":"Mars/Olympus"}]`, "time_constraints[0].timezone"},
		{`[{"name":"a","start":"0 23 * * *","duration":1,"timezone":"Local"}]`, "time_constraints[0].timezone"},
		{`[{"name":"a","start":"0 23 * * *","duration":1},{"name":"a","start":"0 1 * * *","duration":1}]`, "time_constraints[1].name"},
		{`[{"name":"a","start":"0 23 * * *","duration":1,"colour":"red"}]`, "time_constraints[0].colour"},
	}
	for _, b := range bad {
		_, err := ParseTimeConstraints(json.RawMessage(b.in))
		var fe *FieldError
		require.ErrorAs(t, err, &fe, b.in)
		require.Equal(t, b.field, fe.Field, b.in)
	}
}

func TestWithinTimeConstraints(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return ts
	}
	night := []TimeConstraint{{Name: "n", Start: "0 23 * * *", Duration: 10800, Timezone: "Europe/Ljubljana"}}
	weekday := []TimeConstraint{{Name: "w", Start: "0 9 * * 1-5", Duration: 3600, Timezone: "America/New_York"}}
	midnight := []TimeConstraint{{Name: "m", Start: "0 0 * * *", Duration: 6 * 3600, Timezone: "Europe/Berlin"}}
	instant := []TimeConstraint{{Name: "i", Start: "0 23 * * *", Duration: 0}}
	cases := []struct {
		name string
		tcs  []TimeConstraint
		now  string
		want bool
	}{
		{"no constraints", nil, "2026-07-01T12:00:00Z", true},
		// Ljubljana is UTC+2 in summer: 23:00 local is 21:00 UTC.
		{"inside, local evening", night, "2026-07-01T21:30:00Z", true},
		{"inside, past local midnight", night, "2026-07-01T23:59:00Z", true},
		{"end of window", night, "2026-07-02T00:00:00Z", true},
		{"after window", night, "2026-07-02T00:01:00Z", false},
		{"before window", night, "2026-07-01T20:00:00Z", false},
		{"a minute early counts (Aodh's exact match)", night, "2026-07-01T20:59:30Z", true},
		{"winter offset", night, "2026-01-15T22:30:00Z", true},
		{"winter, summer hour", night, "2026-01-15T21:30:00Z", false},
		// New York: 9:00 EST is 14:00 UTC, 9:00 EDT (from 8 March 2026) 13:00 UTC.
		{"EST weekday", weekday, "2026-03-06T14:30:00Z", true},
		{"EST weekday, an hour early", weekday, "2026-03-06T13:30:00Z", false},
		{"EDT weekday", weekday, "2026-03-09T13:30:00Z", true},
		{"EDT weekday, an hour late", weekday, "2026-03-09T14:30:00Z", false},
		{"weekend", weekday, "2026-03-07T14:30:00Z", false},
		// Berlin springs forward at 02:00 on 29 March 2026: the six hours
		// from 00:00 CET (23:00 UTC) end at 05:00 UTC, 07:00 CEST.
		{"duration is elapsed time across DST", midnight, "2026-03-29T04:30:00Z", true},
		{"window ends after six real hours", midnight, "2026-03-29T05:00:01Z", false},
		{"zero duration, on the minute", instant, "2026-07-01T23:00:00Z", true},
		{"zero duration, 30s before", instant, "2026-07-01T22:59:30Z", true},
		{"zero duration, 30s after", instant, "2026-07-01T23:00:30Z", false},
		{"any of several", append(append([]TimeConstraint{}, weekday...), night...), "2026-07-01T21:30:00Z", true},
	}
	for _, c := range cases {
		require.Equal(t, c.want, WithinTimeConstraints(c.tcs, utc(c.now)), c.name)
	}
}
