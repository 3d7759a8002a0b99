package sample_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

func decodeJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

// richMessage exercises every rendering rule. Its signature under "secret"
// was computed with Ceilometer's compute_signature, recursive_keypairs and
// decode_unicode run by CPython 3 on json.loads of the same text.
const richMessage = `{"counter_name":"cpu","counter_type":"cumulative","counter_unit":"ns","counter_volume":1.0,` +
	`"user_id":null,"project_id":"p1","resource_id":"r1","timestamp":"2024-01-02T03:04:05.123456+00:00",` +
	`"resource_metadata":{"flavor":{"name":"m1.small","vcpus":2},"tags":["a","it's",{"z":1,"k":"v"},null,true,1e16],` +
	`"a-b":0.00001,"ok":false,"n":1e16,"x":-0,"u":"h\u00e9"},"source":"openstack","message_id":"m1",` +
	`"monotonic_time":null,"message_signature":"ignored"}`

const richSignature = "1ba31f23c8791789b89914807348cdce7577663d529869ea1dc9ddc48e4fdc82"

func hmacHex(secret string, parts ...string) string {
	h := hmac.New(sha256.New, []byte(secret))
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestComputeSignature(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		msg    map[string]any
		secret string
		want   string
	}{
		{
			name:   "reference vector from CPython",
			msg:    decodeJSON(t, richMessage),
			secret: "secret",
			want:   richSignature,
		},
		{
			name: "hand-built byte string",
			msg: map[string]any{
				"counter_volume":    json.Number("3"),
				"b":                 map[string]any{"y": 1.5, "x": nil},
				"a":                 true,
				"message_signature": "x",
				"l":                 []any{"s", json.Number("2.50"), false},
			},
			secret: "k",
			// Sorted per level: a, b:{x, y}, counter_volume, l.
			want: hmacHex("k", "a", "True", "b:x", "None", "b:y", "1.5", "counter_volume", "3", "l", "[b's', 2.5, False]"),
		},
		{
			name: "per-level sort, not of flattened names",
			msg:  map[string]any{"a": map[string]any{"z": "1"}, "a-b": "2"},
			// "a" < "a-b" at the top level although "a-b" < "a:z".
			secret: "k",
			want:   hmacHex("k", "a:z", "1", "a-b", "2"),
		},
		{
			name:   "floats like repr",
			msg:    map[string]any{"a": 1.0, "b": 1e16, "c": 1e-5, "d": 0.0001, "e": math.Copysign(0, -1), "f": 123456789012345678.0, "g": math.Inf(-1)},
			secret: "k",
			want:   hmacHex("k", "a", "1.0", "b", "1e+16", "c", "1e-05", "d", "0.0001", "e", "-0.0", "f", "1.2345678901234568e+17", "g", "-inf"),
		},
		{
			name:   "empty secret",
			msg:    map[string]any{"a": "b"},
			secret: "",
			want:   "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sample.ComputeSignature(tc.msg, tc.secret); got != tc.want {
				t.Fatalf("ComputeSignature = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	signed := decodeJSON(t, richMessage)
	signed["message_signature"] = richSignature
	tampered := decodeJSON(t, richMessage)
	tampered["message_signature"] = richSignature
	tampered["counter_volume"] = json.Number("1")
	tests := []struct {
		name   string
		msg    map[string]any
		secret string
		want   bool
	}{
		{"good", signed, "secret", true},
		{"wrong secret", signed, "other", false},
		{"tampered", tampered, "secret", false},
		{"missing signature", decodeJSON(t, `{"a":1}`), "secret", false},
		{"non-string signature", map[string]any{"message_signature": 3}, "secret", false},
		{"no secret accepts all", decodeJSON(t, `{"a":1}`), "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sample.VerifySignature(tc.msg, tc.secret); got != tc.want {
				t.Fatalf("VerifySignature = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFromCeilometer(t *testing.T) {
	t.Parallel()
	got, err := sample.FromCeilometer(decodeJSON(t, richMessage))
	if err != nil {
		t.Fatal(err)
	}
	want := sample.Sample{
		Name: "cpu", Type: sample.Cumulative, Unit: "ns", Volume: 1, ProjectID: "p1", ResourceID: "r1",
		Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC), Source: "openstack", MessageID: "m1",
		Signature: "ignored",
		Metadata: map[string]string{
			// Python's str() of each value, as Ceilometer's API shows it.
			"flavor.name": "m1.small", "flavor.vcpus": "2", "tags": `['a', "it's", {'k': 'v', 'z': 1}, None, True, 1e+16]`,
			"a-b": "1e-05", "ok": "False", "n": "1e+16", "x": "0", "u": "hé",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}

	bad := []struct{ name, in string }{
		{"no name", `{"counter_type":"gauge","counter_volume":1}`},
		{"bad type", `{"counter_name":"a","counter_type":"rate","counter_volume":1}`},
		{"no volume", `{"counter_name":"a","counter_type":"gauge"}`},
		{"string volume", `{"counter_name":"a","counter_type":"gauge","counter_volume":"1"}`},
		{"bad timestamp", `{"counter_name":"a","counter_type":"gauge","counter_volume":1,"timestamp":"yesterday"}`},
		{"metadata not object", `{"counter_name":"a","counter_type":"gauge","counter_volume":1,"resource_metadata":[1]}`},
		{"user_id number", `{"counter_name":"a","counter_type":"gauge","counter_volume":1,"user_id":7}`},
		{"huge monotonic", `{"counter_name":"a","counter_type":"gauge","counter_volume":1,"monotonic_time":1e300}`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := sample.FromCeilometer(decodeJSON(t, tc.in)); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestParseISOTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	for _, in := range []string{
		"2024-01-02T03:04:05.123456", "2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.123456+00:00",
		"2024-01-02 03:04:05.123456", "2024-01-02T05:04:05.123456+02:00",
	} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			got, err := sample.ParseISOTime(in)
			if err != nil || !got.Equal(want) {
				t.Fatalf("ParseISOTime(%q) = %v, %v", in, got, err)
			}
		})
	}
}

func TestCeilometerRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   sample.Sample
	}{
		{"full", sample.Sample{
			Name: "disk.read.bytes", Type: sample.Delta, Unit: "B", Volume: 1e16, ResourceID: "r", ProjectID: "p", UserID: "u",
			Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC), Source: "s", MessageID: "m",
			MonotonicTime: 1500 * time.Millisecond, Signature: "sig",
			Metadata: map[string]string{"a": "1", "a.b": "2", "flavor.name": "x", "flavor.ram": "512", "x.y.z": "deep"},
		}},
		{"sparse", sample.Sample{Name: "n", Type: sample.Gauge, Volume: 0.1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw, err := json.Marshal(sample.ToCeilometer(&tc.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := sample.FromCeilometer(decodeJSON(t, string(raw)))
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if !reflect.DeepEqual(got, tc.in) {
				t.Fatalf("%s\ngot  %#v\nwant %#v", raw, got, tc.in)
			}
		})
	}
}

func TestToCeilometerShape(t *testing.T) {
	t.Parallel()
	s := sample.Sample{Name: "n", Type: sample.Gauge, Volume: 2, Metadata: map[string]string{"flavor.name": "x"},
		Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	raw, err := json.Marshal(sample.ToCeilometer(&s))
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{`"counter_volume":2.0`, `"user_id":null`, `"monotonic_time":null`,
		`"resource_metadata":{"flavor":{"name":"x"}}`, `"timestamp":"2024-01-02T03:04:05+00:00"`} {
		if !bytes.Contains(raw, []byte(part)) {
			t.Errorf("%s lacks %s", raw, part)
		}
	}
	// A message we sign verifies after a trip through JSON text.
	m := sample.ToCeilometer(&s)
	m["message_signature"] = sample.ComputeSignature(m, "k")
	raw, _ = json.Marshal(m)
	if !sample.VerifySignature(decodeJSON(t, string(raw)), "k") {
		t.Fatalf("own signature does not verify: %s", raw)
	}
}

func FuzzFromCeilometer(f *testing.F) {
	f.Add([]byte(richMessage), "secret")
	f.Add([]byte(`{"counter_name":"a","counter_type":"gauge","counter_volume":1e400,"resource_metadata":{"a":{"b":[{"c":null}]}}}`), "")
	f.Add([]byte(`{"counter_name":"\u0000","counter_type":"delta","counter_volume":-0,"monotonic_time":-1e-9,"timestamp":"2024-01-02 03:04:05"}`), "k")
	f.Fuzz(func(t *testing.T, data []byte, secret string) {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var m map[string]any
		if d.Decode(&m) != nil || m == nil {
			return
		}
		sig := sample.ComputeSignature(m, secret)
		m["message_signature"] = sig
		if !sample.VerifySignature(m, secret) {
			t.Fatalf("signature %q of %s does not verify", sig, data)
		}
		s, err := sample.FromCeilometer(m)
		if err != nil {
			return
		}
		out := sample.ToCeilometer(&s)
		if math.IsNaN(s.Volume) || math.IsInf(s.Volume, 0) {
			return
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("marshal %#v: %v", out, err)
		}
		back, err := sample.FromCeilometer(out)
		if err != nil {
			t.Fatalf("re-read %#v: %v", out, err)
		}
		s.Timestamp = s.Timestamp.Truncate(time.Microsecond)
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("round trip\ngot  %#v\nwant %#v", back, s)
		}
	})
}

func TestMeteringMessage(t *testing.T) {
	t.Parallel()
	s := sample.Sample{Name: "cpu", Type: sample.Cumulative, Unit: "ns", Volume: 1e9, ResourceID: "vm-1",
		Timestamp: time.Date(2026, 12, 7, 10, 0, 0, 1000, time.UTC)}
	m := sample.MeteringMessage(&s, "secret")
	for _, k := range []string{"source", "counter_name", "counter_type", "counter_unit", "counter_volume", "user_id", "user_name",
		"project_id", "project_name", "resource_id", "timestamp", "resource_metadata", "message_id", "monotonic_time", "message_signature"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing key %q", k)
		}
	}
	if !sample.VerifySignature(m, "secret") || sample.VerifySignature(m, "other") {
		t.Error("signature does not verify with its secret only")
	}
	id := m["message_id"].(string)
	if id != sample.ContentID(&s) || id == "" || id[14] != '5' {
		t.Errorf("message_id %q, want the content id (a version 5 UUID)", id)
	}
	later := s
	later.Timestamp = later.Timestamp.Add(time.Microsecond)
	if sample.ContentID(&later) == id {
		t.Error("another timestamp gives the same id")
	}
	s.MessageID = "given"
	if got := sample.MeteringMessage(&s, "")["message_id"]; got != "given" {
		t.Errorf("message_id %v, want the sample's own", got)
	}
}

// TestParseISOTimeOneLayout: ParseISOTime tries its layouts likeliest
// first; at most one of them parses any text, so it answers as trying
// them in order would.
func TestParseISOTimeOneLayout(t *testing.T) {
	t.Parallel()
	layouts := []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"}
	var ins []string
	for _, date := range []string{"2024-01-02T03:04:05", "2024-01-02 03:04:05", "2024-01-02t03:04:05", "2024-01-0203:04:05", "2024-1-2T03:04:05", "9999-12-31T23:59:59"} {
		for _, frac := range []string{"", ".1", ".123456", ".123456789", ".1234567891", "."} {
			for _, zone := range []string{"", "Z", "z", "+00:00", "-02:30", "+0000", "+24:00", " ", "+00:00Z", "Z+00:00"} {
				ins = append(ins, date+frac+zone)
			}
		}
	}
	ins = append(ins, "", "2024", "2024-01-02", "2024-01-02T", "garbage", "-2024-01-02T03:04:05")
	for _, in := range ins {
		parsed := 0
		var want time.Time
		for _, l := range layouts {
			if tm, err := time.Parse(l, in); err == nil {
				parsed++
				want = tm.UTC()
			}
		}
		got, err := sample.ParseISOTime(in)
		switch {
		case parsed > 1:
			t.Errorf("%q parses with %d layouts", in, parsed)
		case parsed == 0 && err == nil:
			t.Errorf("ParseISOTime(%q) = %v, want an error", in, got)
		case parsed == 1 && (err != nil || !got.Equal(want) || got.Location() != time.UTC):
			t.Errorf("ParseISOTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}
