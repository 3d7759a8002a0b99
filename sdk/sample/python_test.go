package sample_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/altimeter/altimeter/sdk/sample"
)

// TestPythonStr: each value is what python3 prints for
// str(json.loads(text)) (dict keys sorted, as Ceilometer's
// decode_unicode sorts them), checked with /usr/bin/python3.
func TestPythonStr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ json, want string }{
		{`true`, "True"},
		{`false`, "False"},
		{`null`, "None"},
		{`[1,2]`, "[1, 2]"},
		{`[]`, "[]"},
		{`{}`, "{}"},
		{`"text"`, "text"},
		{`5`, "5"},
		{`-0`, "0"},
		{`10000000000000000000000`, "10000000000000000000000"},
		{`1.0`, "1.0"},
		{`1e3`, "1000.0"},
		{`0.00001`, "1e-05"},
		{`1e16`, "1e+16"},
		{`1e999`, "inf"},
		{`["x\ty", "a'b\"c", "\u0001", 1.0, null, false]`, `['x\ty', 'a\'b"c', '\x01', 1.0, None, False]`},
		{`["it's"]`, `["it's"]`},
		{`[{"z": 1, "k": [true]}]`, `[{'k': [True], 'z': 1}]`},
		{`{"b": null, "a": "x"}`, `{'a': 'x', 'b': None}`},
	} {
		dec := json.NewDecoder(bytes.NewReader([]byte(tc.json)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", tc.json, err)
		}
		if got := sample.PythonStr(v); got != tc.want {
			t.Errorf("PythonStr(%s) = %q, want %q", tc.json, got, tc.want)
		}
	}
	// Without UseNumber, an integral float is the integer it most likely was.
	if got := sample.PythonStr(3.0); got != "3" {
		t.Errorf("PythonStr(3.0) = %q, want 3", got)
	}
}

func TestFlattenMetadata(t *testing.T) {
	t.Parallel()
	got := map[string]string{}
	sample.FlattenMetadata(got, "", map[string]any{
		"a": map[string]any{"b": "c", "n": nil, "d": map[string]any{"e": true}}, "l": []any{json.Number("1"), json.Number("2")},
	})
	want := map[string]string{"a.b": "c", "a.n": "None", "a.d.e": "True", "l": "[1, 2]"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
