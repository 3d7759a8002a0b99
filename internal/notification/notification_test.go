package notification_test

import (
	"encoding/json"
	"math"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/internal/notification"
	"github.com/altimeter/altimeter/internal/notification/events"
	"github.com/altimeter/altimeter/internal/notification/meters"
)

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &m))
	return m
}

const doc = `{
  "event_type": "compute.metrics.update",
  "publisher_id": "compute.node-1.example.org",
  "ctxt": {"user_id": null, "user": "u2", "tenant": "t"},
  "payload": {
    "host": "node-1", "nodename": "n1", "size": 3072, "zero": 0, "text": "abc", "flag": true, "none": null,
    "name_to_id": "host@lvm#pool",
    "image_meta": {"org.openstack__1__architecture": "x86_64", "a-b": 1},
    "metrics": [
      {"name": "cpu.frequency", "value": 2400, "unit": "MHz"},
      {"name": "cpu.percent", "value": 0.25, "unit": "%"},
      {"name": "cpu.idle", "value": null}
    ],
    "glance_metadata": [{"key": "image_name", "value": "x"}, {"key": "image_id", "value": "img"}],
    "nested": {"list": [[1, 2], [3]]}
  }
}`

func TestFieldFirstAndAll(t *testing.T) {
	t.Parallel()
	d := decode(t, doc)
	tests := []struct {
		expr    any
		first   any // nil: no value
		all     []any
		skipAll bool
	}{
		{expr: "$.payload.host", first: "node-1", all: []any{"node-1"}},
		{expr: "payload.host", first: "node-1", all: []any{"node-1"}},
		{expr: "$.payload.missing", all: []any{}},
		{expr: "$.payload.none", all: []any{nil}},
		{expr: "$['payload']['host']", first: "node-1", all: []any{"node-1"}},
		{expr: "payload[host]", first: "node-1", all: []any{"node-1"}},
		{expr: "payload.image_meta.'org.openstack__1__architecture'", first: "x86_64", all: []any{"x86_64"}},
		{expr: "$.payload.image_meta.a-b", first: 1.0, all: []any{1.0}},
		{expr: "$.payload.metrics.[*].name", first: "cpu.frequency", all: []any{"cpu.frequency", "cpu.percent", "cpu.idle"}},
		{expr: "$.payload.metrics[*].value", first: 2400.0, all: []any{2400.0, 0.25, nil}},
		{expr: "$.payload.metrics[2].value", all: []any{nil}},
		{expr: "$.payload.metrics[-1].name", first: "cpu.idle", all: []any{"cpu.idle"}},
		{expr: "$.payload.metrics[0:2].unit", first: "MHz", all: []any{"MHz", "%"}},
		{expr: "$.payload.metrics[?(@.name='cpu.percent')].value", first: 0.25, all: []any{0.25}},
		{expr: "$.payload.metrics[?name = cpu.percent].unit", first: "%", all: []any{"%"}},
		{expr: "$.payload.metrics[?(@.value > 1)].name", first: "cpu.frequency", all: []any{"cpu.frequency"}},
		{expr: "$.payload.metrics[?value>0 & unit='%'].name", first: "cpu.percent", all: []any{"cpu.percent"}},
		{expr: "$.payload.metrics[?name=~'^cpu\\.p'].name", first: "cpu.percent", all: []any{"cpu.percent"}},
		{expr: "$.payload.metrics[?unit].name", first: "cpu.frequency", all: []any{"cpu.frequency", "cpu.percent"}},
		{expr: "$.payload.glance_metadata[?key=image_id].value", first: "img", all: []any{"img"}},
		{expr: "$.payload.nested.list[*][0]", first: 1.0, all: []any{1.0, 3.0}},
		{expr: "$..unit", first: "MHz", all: []any{"MHz", "%"}},
		{expr: "$.payload.size / 1024", first: 3.0, all: []any{3.0}},
		{expr: "$.payload.size/1024*2", first: 6.0, all: []any{6.0}},
		{expr: "($.payload.size - 72) / (2 + 1)", first: 1000.0, all: []any{1000.0}},
		{expr: "$.payload.metrics[*].value * 100", all: []any{}}, // None * 100 is a TypeError: no values at all
		{expr: "$.payload.metrics[0:2].value * 100", first: 240000.0, all: []any{240000.0, 25.0}},
		{expr: "$.payload.host + \"_\" + $.payload.nodename", first: "node-1_n1", all: []any{"node-1_n1"}},
		{expr: "$.payload.host + '/' + $.payload.missing", all: []any{}},
		{expr: "$.payload.host + 1", all: []any{}},
		{expr: "$.payload.flag + 1", first: 2.0, all: []any{2.0}},
		{expr: "$.payload.metrics[0:2].name + $.payload.metrics[0:2].unit", first: "cpu.frequencyMHz", all: []any{"cpu.frequencyMHz", "cpu.percent%"}},
		{expr: "$.payload.metrics[*].name + $.payload.metrics[0:2].unit", all: []any{}}, // lengths differ
		{expr: "$.payload.text.`sub(/.*/, )` + 'x.' + $.payload.text", first: "x.abc", all: []any{"x.abc"}},
		{expr: "$.payload.text.`sub(/(b)/, <\\1>)`", first: "a<b>c", all: []any{"a<b>c"}},
		{expr: "$.payload.text.`sub(/z/, y)`", all: []any{}}, // unchanged: no value
		{expr: "$.payload.name_to_id.`split(#, 0, 1)`", first: "host@lvm", all: []any{"host@lvm"}},
		{expr: "$.payload.name_to_id.`split(#, 1, -1)`", first: "pool", all: []any{"pool"}},
		{expr: "$.payload.name_to_id.`split(#, 5, -1)`", all: []any{}},
		{expr: "publisher_id.`split(., 1, 1)`", first: "node-1.example.org", all: []any{"node-1.example.org"}},
		{expr: "publisher_id.`split(., 0, -1)`", first: "compute", all: []any{"compute"}},
		{expr: "$.payload.size.`str()`", first: "3072", all: []any{"3072"}},
		{expr: "$.payload.metrics.`len`", first: 3.0, all: []any{3.0}},
		{expr: "$.ctxt.user_id|$.ctxt.user", first: "u2", all: []any{nil, "u2"}},
		{expr: "($.ctxt.missing)|($.ctxt.tenant)", first: "t", all: []any{"t"}},
		{expr: []any{"ctxt.user_id", "ctxt.user"}, first: "u2", all: []any{nil, "u2"}},
		{expr: []any{"payload.host"}, first: "node-1", all: []any{"node-1"}},
		{expr: 5, first: 5.0, all: []any{5.0}},
		{expr: 1.5, first: 1.5, all: []any{1.5}},
		{expr: "'literal'", first: "literal", all: []any{"literal"}},
		{expr: "42", first: 42.0, all: []any{42.0}},
		{expr: map[string]any{"fields": []any{"payload.metrics[0].name", "payload.host"}, "plugin": "split"},
			first: "cpu", all: []any{"cpu", "node-1"}},
		{expr: map[string]any{"fields": "publisher_id", "plugin": map[string]any{"name": "split", "parameters": map[string]any{"segment": 1, "max_split": 1}}},
			first: "node-1.example.org", all: []any{"node-1.example.org"}},
		{expr: map[string]any{"fields": "payload.text", "plugin": map[string]any{"name": "split", "parameters": map[string]any{"segment": 3}}},
			all: []any{}},
		{expr: map[string]any{"fields": []any{"payload.missing", "payload.zero"}, "plugin": "timedelta"}, skipAll: true},
		{expr: map[string]any{"fields": []any{"payload.flag", "payload.text", "payload.none"}, "plugin": map[string]any{
			"name": "bitfield", "parameters": map[string]any{"initial_bitfield": 1, "flags": []any{
				map[string]any{"path": "payload.flag", "bit": 1, "value": true},
				map[string]any{"path": "payload.text", "bit": 2, "value": "abd"},
				map[string]any{"path": "$.payload.text", "bit": 3},
				map[string]any{"path": "payload.none", "bit": 4},
			}}}}, first: 11.0, skipAll: true},
	}
	for _, tc := range tests {
		name, _ := json.Marshal(tc.expr)
		t.Run(string(name), func(t *testing.T) {
			t.Parallel()
			f, err := notification.CompileField(tc.expr)
			require.NoError(t, err)
			got, ok, err := f.First(d)
			require.NoError(t, err)
			require.Equal(t, tc.first != nil, ok, "found %v", got)
			require.Equal(t, tc.first, got)
			if tc.skipAll {
				require.False(t, f.SupportsAll())
				return
			}
			all, err := f.All(d)
			require.NoError(t, err)
			if len(tc.all) == 0 {
				require.Empty(t, all)
			} else {
				require.Equal(t, tc.all, all)
			}
		})
	}
}

func TestFieldTimedelta(t *testing.T) {
	t.Parallel()
	f := notification.MustCompileField(map[string]any{"fields": []any{"$.a", "$.b"}, "plugin": "timedelta"})
	for _, tc := range []struct {
		doc  string
		want any
	}{
		{`{"a": "2012-05-08 20:23:41", "b": "2012-05-08T20:23:47.985999"}`, 6.985999},
		{`{"b": "2012-05-08 20:23:41", "a": "2012-05-08T20:23:47.985999+00:00"}`, 6.985999}, // absolute
		{`{"a": "2024-02-29T23:00:00.000000", "b": "2024-03-01T00:00:00.000000"}`, 3600.0},
		{`{"a": "2012-05-08 20:23:41"}`, nil},               // one field: no value
		{`{"a": "2012-05-08 20:23:41", "b": "never"}`, nil}, // not a time
		{`{"a": "2012-05-08 20:23:41", "b": null}`, nil},
	} {
		got, ok, err := f.First(decode(t, tc.doc))
		require.NoError(t, err)
		require.Equal(t, tc.want != nil, ok, tc.doc)
		if tc.want != nil {
			require.InDelta(t, tc.want, got, 1e-9, tc.doc)
		}
	}
}

func TestFieldErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr any
		want string
	}{
		{"", `parse "": offset 0: expression ends where a value is expected`},
		{"$.a +", `parse "$.a +": offset 5: expression ends where a value is expected`},
		{"($.a", `parse "($.a": offset 4: missing )`},
		{"$.a[", `parse "$.a[": offset 3: missing ]`},
		{"$.a[?]", "empty filter"},
		{"$.a['x]", `missing ]`},
		{"'abc", "unterminated string"},
		{"$.a.`split(.)`", "unsupported extension `split(.)`"},
		{"$.a.`sub(/(/, x)`", "error parsing regexp"},
		{"$.a.`str()`.b", "a path cannot continue after an extension"},
		{"$.a[?x=~'(']", "error parsing regexp"},
		{"$.a %", `unexpected '%'`},
		{[]any{}, "empty list of fields"},
		{[]any{"$.a", 3}, "fields[1]: want a JSONPath string, got int 3"},
		{true, "want a JSONPath, a list of them or a number, got boolean true"},
		{nil, "no value"},
		{map[string]any{"plugin": "split"}, "a mapping needs a fields key"},
		{map[string]any{"fields": "a", "plugin": 3}, "plugin: want a name or a mapping"},
		{map[string]any{"fields": "a", "plugin": map[string]any{"name": "split", "parameters": map[string]any{"sep": "."}}}, `plugin split: unknown parameter "sep" (want separator, segment, max_split)`},
		{map[string]any{"fields": "a", "plugin": map[string]any{"name": "timedelta", "parameters": map[string]any{"x": 1}}}, `plugin timedelta: unknown parameter "x" (it takes none)`},
		{map[string]any{"fields": "a", "plugin": map[string]any{"name": "bitfield", "parameters": map[string]any{"flags": "x"}}}, "plugin bitfield: flags: want a list"},
	} {
		name, _ := json.Marshal(tc.expr)
		t.Run(string(name), func(t *testing.T) {
			t.Parallel()
			f, err := notification.CompileField(tc.expr)
			require.Nil(t, f)
			require.ErrorContains(t, err, tc.want)
		})
	}
	f := notification.MustCompileField("$.a / $.b")
	_, _, err := f.First(decode(t, `{"a": 1, "b": 0}`))
	require.ErrorContains(t, err, "division by zero")
}

func TestMatchers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		glob  bool
		expr  string
		yes   []string
		no    []string
		error string
	}{
		{glob: true, expr: "compute.instance.*", yes: []string{"compute.instance.create.end", "compute.instance."}, no: []string{"compute.instancex", "image.upload"}},
		{glob: true, expr: "*http.*", yes: []string{"http.request", "objectstore.http.request"}, no: []string{"objectstore.https"}},
		{glob: true, expr: "image.upload", yes: []string{"image.upload"}, no: []string{"image.upload.x", "Image.upload"}},
		{glob: true, expr: "volume.?ttach.[!s]*", yes: []string{"volume.attach.end", "volume.dttach.e"}, no: []string{"volume.attach.start"}},
		{glob: true, expr: "a[bc]d", yes: []string{"abd", "acd"}, no: []string{"add"}},
		{glob: true, expr: "a[b", yes: []string{"a[b"}, no: []string{"ab"}},
		{glob: true, expr: "identity.OS-TRUST:trust.*", yes: []string{"identity.OS-TRUST:trust.created"}},
		{expr: "compute.instance.(?!create.start|update).*",
			yes: []string{"compute.instance.create.end", "compute.instance.create.error", "compute.instance.exists", "compute.instance.delete.end"},
			no:  []string{"compute.instance.create.start", "compute.instance.update", "compute.instance.updated", "compute.metrics.update", "image.upload"}},
		{expr: "a(?=b)", yes: []string{"ab", "abc"}, no: []string{"ac", "a"}},
		{expr: "x(?!y)(?!z)", yes: []string{"xa", "x"}, no: []string{"xy", "xz"}},
		{expr: "volume.create.*", yes: []string{"volume.create.end", "volume_create"}, no: []string{"volume.delete.end"}},
		{expr: "image.upload", yes: []string{"image.upload", "image.upload.extra"}, no: []string{"image.uploa"}},
		{expr: `network\.update\.`, yes: []string{"network.update.end"}, no: []string{"network.update"}},
		{expr: `a\Z`, yes: []string{"a"}, no: []string{"ab"}},
		{expr: "(a(?!b))", error: "lookahead inside a group"},
		{expr: "(?<=a)b", error: "lookbehind"},
		{expr: "a(?!b", error: "missing )"},
		{expr: "a)", error: "unbalanced parenthesis"},
		{expr: "[", error: "missing closing ]"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			t.Parallel()
			compile := notification.CompileRegexp
			if tc.glob {
				compile = notification.CompileGlob
			}
			m, err := compile(tc.expr)
			if tc.error != "" {
				require.ErrorContains(t, err, tc.error)
				return
			}
			require.NoError(t, err)
			for _, s := range tc.yes {
				require.True(t, m(s), "%s should match %s", tc.expr, s)
			}
			for _, s := range tc.no {
				require.False(t, m(s), "%s should not match %s", tc.expr, s)
			}
		})
	}
}

func TestConversions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      any
		float   any // float64, or an error substring
		integer any // int64, or an error substring
		text    string
		truthy  bool
	}{
		{in: 512.0, float: 512.0, integer: int64(512), text: "512", truthy: true},
		{in: 0.25, float: 0.25, integer: int64(0), text: "0.25", truthy: true},
		{in: -2.9, float: -2.9, integer: int64(-2), text: "-2.9", truthy: true},
		{in: json.Number("12"), float: 12.0, integer: int64(12), text: "12", truthy: true},
		{in: json.Number("1.5"), float: 1.5, integer: int64(1), text: "1.5", truthy: true},
		{in: "12", float: 12.0, integer: int64(12), text: "12", truthy: true},
		{in: " 1e3 ", float: 1000.0, integer: `want an integer, got string " 1e3 "`, text: " 1e3 ", truthy: true},
		{in: "", float: `want a number, got string ""`, integer: `want an integer, got string ""`, text: "", truthy: false},
		{in: "abc", float: `want a number, got string "abc"`, integer: `want an integer, got string "abc"`, text: "abc", truthy: true},
		{in: true, float: 1.0, integer: int64(1), text: "True", truthy: true},
		{in: false, float: 0.0, integer: int64(0), text: "False", truthy: false},
		{in: nil, float: "want a number, got null", integer: "want an integer, got null", text: "None", truthy: false},
		{in: []any{1.0, "a", nil}, float: "want a number, got a list of 3", integer: "want an integer, got a list of 3", text: "[1, 'a', None]", truthy: true},
		{in: []any{}, float: "want a number, got a list of 0", integer: "want an integer, got a list of 0", text: "[]", truthy: false},
		{in: map[string]any{"b": "it's", "a": 1.5}, float: "want a number, got an object", integer: "want an integer, got an object", text: `{'a': 1.5, 'b': "it's"}`, truthy: true},
		{in: math.Inf(1), float: math.Inf(1), integer: "cannot convert +Inf to an integer", text: "inf", truthy: true},
	} {
		name, _ := json.Marshal(tc.in)
		t.Run(string(name), func(t *testing.T) {
			t.Parallel()
			f, err := notification.Float(tc.in)
			if want, ok := tc.float.(string); ok {
				require.ErrorContains(t, err, want)
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.float, f)
			}
			i, err := notification.Int(tc.in)
			if want, ok := tc.integer.(string); ok {
				require.ErrorContains(t, err, want)
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.integer, i)
			}
			require.Equal(t, tc.text, notification.Text(tc.in))
			require.Equal(t, tc.truthy, notification.Truthy(tc.in))
		})
	}
	for in, want := range map[string]string{
		"2012-05-08 20:23:48.028195":       "2012-05-08T20:23:48.028195Z",
		"2012-05-08T20:23:41.425105+00:00": "2012-05-08T20:23:41.425105Z",
		"2012-05-08T22:23:41+02:00":        "2012-05-08T20:23:41Z",
		"2024-03-06T07:00:00.000000+0000":  "2024-03-06T07:00:00Z",
		"2024-03-06 07:00:00-0100":         "2024-03-06T08:00:00Z",
		"2012-05-08":                       "2012-05-08T00:00:00Z",
		"2012-05-08T20:23Z":                "2012-05-08T20:23:00Z",
		"20120508T202341Z":                 "2012-05-08T20:23:41Z",
		"  2012-05-08T20:23:41.000001Z  ":  "2012-05-08T20:23:41.000001Z",
		"yesterday":                        "",
	} {
		got, err := notification.ParseTime(in)
		if want == "" {
			require.Error(t, err, in)
			continue
		}
		require.NoError(t, err, in)
		require.Equal(t, want, got.Format(time.RFC3339Nano), in)
		require.Equal(t, time.UTC, got.Location())
	}
	require.True(t, notification.Equal(1.0, 1))
	require.True(t, notification.Equal(json.Number("2"), 2.0))
	require.True(t, notification.Equal(true, 1))
	require.False(t, notification.Equal("1", 1))
	require.True(t, notification.Equal([]any{1.0, map[string]any{"a": nil}}, []any{1, map[string]any{"a": nil}}))
	require.Equal(t, "ab", notification.Truncate("abc", 2))
	require.Equal(t, "éé", notification.Truncate("ééé", 2))
	require.Equal(t, "é", notification.Truncate("é", 2))
}

func TestFlatten(t *testing.T) {
	t.Parallel()
	got := map[string]string{}
	notification.Flatten(got, "m", map[string]any{
		"a": map[string]any{"b": "c", "n": nil}, "l": []any{1.0, "x"}, "f": 1.5, "i": 3.0, "t": true,
	})
	// Python's str() of each value, as Ceilometer's API shows metadata.
	require.Equal(t, map[string]string{"m.a.b": "c", "m.a.n": "None", "m.l": `[1, 'x']`, "m.f": "1.5", "m.i": "3", "m.t": "True"}, got)
}

func TestNotification(t *testing.T) {
	t.Parallel()
	msg := decode(t, `{"message_id": "m", "publisher_id": "p", "event_type": "e", "priority": "WARN",
		"timestamp": "2012-05-08 20:23:48.028195", "payload": {"a": 1},
		"_context_user_id": "u", "_context_request_id": "r", "other": 1}`)
	n, err := notification.FromMessage(msg)
	require.NoError(t, err)
	require.Equal(t, "warn", n.NormalizedPriority())
	require.Equal(t, time.Date(2012, 5, 8, 20, 23, 48, 28195000, time.UTC), n.Timestamp)
	d := n.Document()
	require.Equal(t, map[string]any{"user_id": "u", "request_id": "r"}, d["ctxt"])
	require.Equal(t, map[string]any{"message_id": "m", "timestamp": "2012-05-08T20:23:48.028195+00:00"}, d["metadata"])
	require.Equal(t, "WARN", d["priority"])
	for path, want := range map[string]any{"$._context_user_id": "u", "other": 1.0, "$.ctxt.user_id": "u", "$.payload.a": 1.0, "$.priority": "WARN"} {
		got, ok, err := notification.MustCompileField(path).First(d)
		require.NoError(t, err)
		require.True(t, ok, path)
		require.Equal(t, want, got, "%s: legacy flat paths keep working", path)
	}
	all, err := notification.MustCompileField("$._context_user_id|$.nothing[*]").All(d)
	require.NoError(t, err)
	require.Equal(t, []any{"u"}, all)
	require.Len(t, n.Body(), 6)
	require.NotContains(t, n.Body(), "_context_user_id")

	// A prepared document is the same, shared, and Body leaves it whole.
	fresh := n.Document()
	n.PrepareDocument()
	require.Equal(t, fresh, n.Document())
	require.Len(t, n.Body(), 6)
	require.Len(t, n.Document(), len(fresh), "Body does not modify the shared document")
	n.Document()["probe"] = 1
	require.Contains(t, n.Document(), "probe", "one map, computed once")
	delete(n.Document(), "probe")

	// A message carrying ctxt as an object (the split form).
	n2 := &notification.Notification{EventType: "e", Raw: map[string]any{"ctxt": map[string]any{"user": "x"}, "timestamp": "2012-05-08T20:23:48Z", "payload": "p"}}
	require.Equal(t, map[string]any{"user": "x"}, n2.Document()["ctxt"])
	require.Equal(t, "p", n2.Document()["payload"])
	when, err := n2.Time()
	require.NoError(t, err)
	require.Equal(t, time.Date(2012, 5, 8, 20, 23, 48, 0, time.UTC), when)
	require.Equal(t, "info", n2.NormalizedPriority())

	for _, tc := range []struct {
		msg  string
		want string
	}{
		{`{"payload": {}}`, "decode notification: no event_type"},
		{`{"event_type": 3}`, "decode notification: event_type: want a string, got float64 3"},
		{`{"event_type": "e", "timestamp": "soon"}`, `decode notification: timestamp: want an ISO 8601 time, got "soon"`},
		{`{"event_type": "e", "timestamp": 5}`, "decode notification: timestamp: want a string, got float64 5"},
		{`{"event_type": "e", "priority": ["x"]}`, "decode notification: priority: want a string, got a list of 1"},
	} {
		_, err := notification.FromMessage(decode(t, tc.msg))
		require.EqualError(t, err, tc.want, tc.msg)
	}
	_, err = (&notification.Notification{}).Time()
	require.EqualError(t, err, "notification has no timestamp")
}

func TestDerivedID(t *testing.T) {
	t.Parallel()
	uuid5 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a := notification.DerivedID("msg", "memory", "r1")
	require.Regexp(t, uuid5, a)
	require.Equal(t, a, notification.DerivedID("msg", "memory", "r1"))
	require.NotEqual(t, a, notification.DerivedID("msg", "memory", "r2"))
	require.NotEqual(t, a, notification.DerivedID("msg", "vcpus", "r1"))
	require.NotEqual(t, notification.DerivedID("ab", "c"), notification.DerivedID("a", "bc"))
	me := &notification.MappingError{Definition: `meter "m"`, Field: "volume", Reason: "r"}
	require.EqualError(t, me, `meter "m": volume: r`)
	require.EqualError(t, &notification.MappingError{Definition: "d", Reason: "r"}, "d: r")
}

// BenchmarkNotification maps one compute.instance.create.end notification
// to its samples and its event with the shipped definitions, as the
// notification agent does for each message.
func BenchmarkNotification(b *testing.B) {
	raw, err := os.ReadFile("testdata/compute.instance.create.end.json")
	require.NoError(b, err)
	n, err := notification.FromMessage(decode(b, string(raw)))
	require.NoError(b, err)
	m, ev := meters.Default(), events.Default()
	b.ReportAllocs()
	for b.Loop() {
		ss, err := m.Samples(n)
		if err != nil || len(ss) != 6 {
			b.Fatal(err)
		}
		if _, ok, err := ev.Event(n); !ok || err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzCompileField(f *testing.F) {
	for _, s := range []string{
		"$.payload.metrics[?(@.name='cpu.frequency')].value * 100",
		"$.payload.host + \"_\" + $.payload.nodename",
		"$.payload.outcome.`sub(/.*/, )` + 'identity.authenticate.' + $.payload.outcome",
		"payload.image_meta.'org.openstack__1__architecture'",
		"$.payload.glance_metadata[?key=image_id].value",
		"($.a)|($.b[0:2])|$..c.`split(., 0, -1)`",
		"$.payload.metrics.[*].name",
		"$['a'][-1][?x=~'^a' & y>2]",
	} {
		f.Add(s, []byte(doc))
	}
	f.Fuzz(func(t *testing.T, expr string, data []byte) {
		fld, err := notification.CompileField(expr)
		if err != nil {
			return
		}
		var d any
		if json.Unmarshal(data, &d) != nil {
			return
		}
		v, ok, err := fld.First(d)
		if err == nil && ok && v == nil {
			t.Fatalf("%q: found a null", expr)
		}
		if fld.SupportsAll() {
			_, _ = fld.All(d)
		}
	})
}
