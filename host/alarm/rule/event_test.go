package rule

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEventMatches(t *testing.T) {
	t.Parallel()
	traits := map[string]any{
		"state": "error", "instance_id": "vm-1", "vcpus": int64(4), "load": 0.75,
		"launched_at": time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), "ok": true,
		"nan": math.NaN(),
	}
	cases := []struct {
		rule, eventType string
		want            bool
	}{
		{`{}`, "anything.at.all", true},
		{`{"event_type":"compute.instance.*"}`, "compute.instance.update", true},
		{`{"event_type":"compute.instance.*"}`, "compute.volume.update", false},
		{`{"event_type":"compute.instance.update"}`, "compute.instance.update.end", false},
		{`{"event_type":"compute.*.end"}`, "compute.instance.create.end", true},
		{`{"event_type":"compute.instance.?pdate"}`, "compute.instance.update", true},
		{`{"event_type":"image/*"}`, "image/a/b", true}, // fnmatch: * crosses '/'
		{`{"query":[{"field":"traits.state","value":"error"}]}`, "x", true},
		{`{"query":[{"field":"traits.state","op":"eq","value":"active"}]}`, "x", false},
		{`{"query":[{"field":"traits.state","op":"ne","value":"active"}]}`, "x", true},
		{`{"query":[{"field":"traits.missing","op":"eq","value":"x"}]}`, "x", false},
		{`{"query":[{"field":"traits.missing","op":"ne","value":"x"}]}`, "x", true},
		{`{"query":[{"field":"traits.vcpus","op":"ge","value":"4","type":"integer"}]}`, "x", true},
		{`{"query":[{"field":"traits.vcpus","op":"gt","value":"4","type":"integer"}]}`, "x", false},
		{`{"query":[{"field":"traits.vcpus","op":"eq","value":"4"}]}`, "x", false}, // string vs integer trait
		{`{"query":[{"field":"traits.load","op":"lt","value":"0.8","type":"float"}]}`, "x", true},
		// NaN on either side: no ordering or equality holds, "ne" does
		// (Python's float comparisons, which Aodh's evaluator uses).
		{`{"query":[{"field":"traits.nan","op":"eq","value":"1","type":"float"}]}`, "x", false},
		{`{"query":[{"field":"traits.nan","op":"le","value":"1","type":"float"}]}`, "x", false},
		{`{"query":[{"field":"traits.nan","op":"ge","value":"1","type":"float"}]}`, "x", false},
		{`{"query":[{"field":"traits.nan","op":"ne","value":"1","type":"float"}]}`, "x", true},
		{`{"query":[{"field":"traits.load","op":"eq","value":"nan","type":"float"}]}`, "x", false},
		{`{"query":[{"field":"traits.load","op":"ge","value":"NaN","type":"float"}]}`, "x", false},
		{`{"query":[{"field":"traits.load","op":"ne","value":"nan","type":"float"}]}`, "x", true},
		{`{"query":[{"field":"traits.launched_at","op":"lt","value":"2026-11-20T11:00:00","type":"datetime"}]}`, "x", true},
		{`{"query":[{"field":"traits.launched_at","op":"gt","value":"2026-11-20T11:00:00","type":"datetime"}]}`, "x", false},
		{`{"query":[{"field":"traits.ok","op":"eq","value":"true","type":"boolean"}]}`, "x", true},
		{`{"query":[{"field":"traits.state","op":"gt","value":"a"}]}`, "x", true}, // string order
		{`{"query":[{"field":"traits.state","value":"error"},{"field":"traits.instance_id","value":"vm-2"}]}`, "x", false},
		{`{"query":[{"field":"event_type","value":"compute.instance.update"}]}`, "compute.instance.update", true},
	}
	for _, c := range cases {
		r := mustParse(t, TypeEvent, c.rule).(*EventRule)
		require.Equal(t, c.want, r.Matches(c.eventType, traits), "%s %s", c.rule, c.eventType)
	}
}

func TestEvaluateEvent(t *testing.T) {
	t.Parallel()
	r := mustParse(t, TypeEvent, `{"event_type":"compute.instance.update","query":[{"field":"traits.state","value":"error","type":"string"}]}`)
	ev := Event{MessageID: "m-1", EventType: "compute.instance.update", Traits: map[string]any{"state": "error"}}
	out, fired := EvaluateEvent(Input{Rule: r, State: StateOK}, ev)
	require.True(t, fired)
	require.Equal(t, Outcome{
		State:      StateAlarm,
		Reason:     `Event <id=m-1,event_type=compute.instance.update> hits the query <query=[{"field": "traits.state", "op": "eq", "type": "string", "value": "error"}]>.`,
		ReasonData: map[string]any{"type": "event", "event": map[string]any{"message_id": "m-1", "event_type": "compute.instance.update", "traits": ev.Traits}},
		Changed:    true, Notify: true,
	}, out)

	// Already in alarm: skipped unless repeat_actions, which notifies again.
	_, fired = EvaluateEvent(Input{Rule: r, State: StateAlarm}, ev)
	require.False(t, fired)
	out, fired = EvaluateEvent(Input{Rule: r, State: StateAlarm, RepeatActions: true}, ev)
	require.True(t, fired)
	require.False(t, out.Changed)
	require.True(t, out.Notify)

	// Events without a type or message id are invalid.
	_, fired = EvaluateEvent(Input{Rule: r, State: StateOK}, Event{EventType: "compute.instance.update", Traits: ev.Traits})
	require.False(t, fired)

	require.Equal(t, "p1", EventProject(map[string]any{"tenant_id": "p1"}))
	require.Equal(t, "p2", EventProject(map[string]any{"tenant_id": "p1", "project_id": "p2"}))
	require.Empty(t, EventProject(map[string]any{"project_id": 3}))

	// Not matching.
	ev.Traits = map[string]any{"state": "active"}
	out, fired = EvaluateEvent(Input{Rule: r, State: ""}, ev)
	require.False(t, fired)
	require.Equal(t, StateInsufficient, out.State)
}
