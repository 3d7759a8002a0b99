package rule

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzParse checks that no input panics Parse, that every error is a
// FieldError, and that an accepted rule renders to JSON that parses back.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"meter_name":"cpu","threshold":1,"query":[{"field":"resource_id","value":"a"}]}`,
		`{"and":[{"type":"threshold","meter_name":"a","threshold":1},{"or":[{"type":"prometheus","query":"up","threshold":1}]}]}`,
		`{"metric":"cpu","query":"{\"and\":[{\"like\":{\"name\":\"a%\"}},{\"in\":{\"id\":[1,2]}}]}","resource_type":"i","aggregation_method":"mean","threshold":1}`,
		`{"event_type":"a.*","query":[{"field":"traits.x","op":"lt","value":"1","type":"float"}]}`,
		`{"metrics":["dm0tMStjcHU="],"aggregation_method":"std","threshold":"1e3"}`,
		`[`, `null`, `{"and":[[[[[[]]]]]]}`,
	} {
		for i := range Types {
			f.Add(i, s)
		}
	}
	f.Fuzz(func(t *testing.T, ti int, s string) {
		typ := "bogus"
		if ti >= 0 && ti < len(Types) {
			typ = Types[ti]
		}
		r, err := Parse(typ, json.RawMessage(s))
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("not a FieldError: %v", err)
			}
			return
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := Parse(typ, b); err != nil {
			t.Fatalf("normalized %s does not parse: %v", b, err)
		}
	})
}

// FuzzTimeConstraints checks that hostile cron expressions and timezones
// are refused or evaluated without panicking or looping.
func FuzzTimeConstraints(f *testing.F) {
	for _, s := range []string{"0 23 * * *", "*/0 * * * *", "0 0 30 2 *", "@every 1s", "59 23 31 12 7", "0-59/1 0-23 1-31 1-12 0-7", "@yearly", "L W # ?"} {
		f.Add(s, "Europe/Berlin", 3600)
	}
	f.Fuzz(func(t *testing.T, start, tz string, dur int) {
		raw, _ := json.Marshal([]map[string]any{{"name": "n", "start": start, "timezone": tz, "duration": dur}})
		tcs, err := ParseTimeConstraints(raw)
		if err != nil {
			return
		}
		WithinTimeConstraints(tcs, time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC))
	})
}
