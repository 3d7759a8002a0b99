package api

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// checkOldSampleJSON fails unless o.appendJSON writes what json.Marshal
// writes for o, and refuses what it refuses.
func checkOldSampleJSON(t *testing.T, o oldSampleJSON) {
	t.Helper()
	want, wantErr := json.Marshal(o)
	got, err := o.appendJSON([]byte("prefix"))
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("%+v: appendJSON error %v, encoding/json %v", o, err, wantErr)
	}
	if err == nil && string(got) != "prefix"+string(want) {
		t.Fatalf("%+v:\nappendJSON    %s\nencoding/json %s", o, got[len("prefix"):], want)
	}
}

var jsonStrings = []string{
	"", "cpu_util", `q"uote\back`, "<script>&amp;</script>", "tab\tnl\nret\rbs\bff\f\x00\x01\x1f\x7f",
	"caf\u00e9 \U0001F600", "line\u2028para\u2029", "bad\xffutf8\xc3", "\xe2\x80", "\xed\xa0\x80",
}

func TestOldSampleJSONAsEncodingJSON(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	for _, v := range []float64{0, math.Copysign(0, -1), 1, -1.5, 123.456, 1e20, 1e21, 1e-6, 1e-7, 9.99e-7, 5e-324, math.MaxFloat64, -1e300, 0.1 + 0.2, math.Inf(1), math.NaN()} {
		checkOldSampleJSON(t, oldSampleJSON{CounterVolume: v})
	}
	for _, s := range jsonStrings {
		checkOldSampleJSON(t, oldSampleJSON{CounterName: s, CounterType: "gauge", CounterUnit: s, MessageID: s, ResourceID: s,
			ProjectID: nullString(s), UserID: nullString(s), Source: s, Timestamp: isoTime(ts), RecordedAt: isoTime(ts),
			ResourceMetadata: map[string]string{s: s, "b" + s: "x", "a": s}})
	}
	checkOldSampleJSON(t, oldSampleJSON{ResourceMetadata: map[string]string{}})
	checkOldSampleJSON(t, oldSampleJSON{ResourceMetadata: map[string]string{"only": "one"}})
	checkOldSampleJSON(t, oldSampleJSON{Timestamp: isoTime(time.Unix(0, 0)), RecordedAt: isoTime(time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC))})
}

// FuzzOldSampleJSON: any strings and volume are written as encoding/json
// writes them.
func FuzzOldSampleJSON(f *testing.F) {
	for i, s := range jsonStrings {
		f.Add(s, "k"+s, float64(i)*1.5e-7, int64(i)*1e17)
	}
	f.Fuzz(func(t *testing.T, s, k string, v float64, ns int64) {
		checkOldSampleJSON(t, oldSampleJSON{CounterName: s, CounterType: k, CounterUnit: s, CounterVolume: v, MessageID: k, ResourceID: s,
			ProjectID: nullString(s), UserID: nullString(k), Source: s, Timestamp: isoTime(time.Unix(0, ns)),
			ResourceMetadata: map[string]string{k: s, s: k, k + s: ""}})
	})
}
