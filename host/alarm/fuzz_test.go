package alarm

import (
	"context"
	"errors"
	"testing"
)

// FuzzBuild: any body is decoded and validated without a panic, and a
// refusal is always a FieldError (a 400 naming the field).
func FuzzBuild(f *testing.F) {
	for _, s := range []string{
		`{"name":"x","type":"threshold","threshold_rule":{"meter_name":"m","threshold":1,"comparison_operator":"gt"}}`,
		`{"name":"x","type":"composite","composite_rule":{"or":[{"type":"threshold","meter_name":"a","threshold":1},{"and":[]}]}}`,
		`{"name":"x","type":"event","event_rule":{"event_type":"a.*","query":[{"field":"traits.x","op":"eq","value":"1"}]},"time_constraints":[{"name":"n","start":"0 1 * * *","duration":"60","timezone":"UTC"}]}`,
		`{"name":"","alarm_actions":["http://127.0.0.1/x",1],"enabled":"True"}`,
		`[]`, `null`, `{"a":`, `{"name":"x"}{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBody(data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("decode error is not a FieldError: %v", err)
			}
			return
		}
		_, err = build(context.Background(), Checker{}, Caller{Project: "p", User: "u"}, b, nil)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("build error does not wrap ErrInvalid: %v", err)
		}
	})
}
