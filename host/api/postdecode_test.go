package api

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// postTyped are bodies the typed decoder must take itself (not leave to
// decodePostedMap), each accepted as the map decoder accepts it.
var postTyped = []string{
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r"}]`,
	` [ { "counter_name" : "cpu_util" , "counter_type":"cumulative", "counter_unit":"ns", "counter_volume": -1.5e3,` + "\n\t\r" +
		`"resource_id":"r\u00e9\"\\\/\b\f\n\r\t\ud83d\ude00", "user_id":null, "project_id":null, "source":null, "message_id":null, "timestamp":null, "resource_metadata":null } ] `,
	`[{"counter_name":"cpu_util","counter_type":"delta","counter_unit":"%","counter_volume":" 2.5 ","resource_id":"r","recorded_at":{"x":[1,2]},` +
		`"resource_metadata":{"a":[1,{"b":null},"x'y",1.0,1e3,-0,true],"flavor":{"name":"m1","vcpus":2,"disk":{"gb":1.50}},"on":true,"off":false,"n":null,"":{"top":1},"e":{},"k\u00fc":"v\u00e9","big":123456789012345678901234567890}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"","counter_volume":0,"resource_id":"r","project_id":"proj-a","user_id":"u","source":"s","message_id":"m1","timestamp":"2024-01-02T03:00:00.123456789+02:00"},` +
		`{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"","counter_volume":1,"resource_id":"r","project_id":"proj-a","user_id":"u","source":"s","message_id":"m2","timestamp":"2024-01-02 03:00:00"}]`,
	// The last of a repeated attribute counts, as in a map.
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"counter_volume":2,"resource_id":"x","resource_id":"r","project_id":"p","project_id":null,` +
		`"resource_metadata":{"a":1},"resource_metadata":{"b":2},"timestamp":"2024-01-02T03:00:00","timestamp":null}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":{}}}]`,
}

// postDiffer are bodies the two decoders must agree on, whoever takes
// them: refusals (worded by decodePostedMap) and the cases the typed
// decoder leaves to it.
var postDiffer = []string{
	``, `[]`, `null`, `[null]`, `[{}]`, `[{"counter_name":"cpu_util"}] x`, `[{"counter_name":"cpu_util"}]]`, "\ufeff[]",
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r"},]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r",}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":01,"resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1.,"resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1e400,"resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1e-400,"resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":"nan","resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":"0x1p3","resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":"x","resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":true,"resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":null,"resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":""}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":5}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":null,"counter_volume":1,"resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"Gauge","counter_unit":"%","counter_volume":1,"resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":null,"counter_unit":"%","counter_volume":1,"resource_id":"r"}]`,
	`[{"counter_name":"other","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r"}]`,
	`[{"counter_name":5,"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r"}]`,
	`[{"Counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","monotonic_time":1}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","user_id":5}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","project_id":"proj-b"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","timestamp":5}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","timestamp":"yesterday"}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":[]}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":1,"a":2}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":{"x":1},"a":{"y":2}}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":1,"a":{}}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a.b":{},"a":{"b":1}}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":"\ud800"}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":"\ud800\u0041"}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":"` + "\xff" + `"}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":"` + "\x01" + `"}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":"\x"}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":tru}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":` + strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100) + `}]`,
	`[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","message_id":"m"},` +
		`{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","message_id":"m"}]`,
}

// postRulesTest are the rules of the decoder tests: a fixed now, the
// default metadata bound, and a retention that keeps 2020 on.
func postRulesTest() postRules {
	return postRules{now: t0, maxMetadata: DefaultMaxMetadataBytes, keptSince: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// checkPostDecoders decodes body with both decoders, as an admin and as a
// member of proj-a, and fails if they disagree. It returns whether the
// typed decoder took every decode itself.
func checkPostDecoders(t *testing.T, body string) bool {
	t.Helper()
	took := true
	for _, who := range []struct{ scope, own string }{{"", "admin-proj"}, {projectA, projectA}} {
		want, wantErr := decodePostedMap([]byte(body), "cpu_util", who.scope, who.own, postRulesTest())
		got, ok := decodePostedTyped([]byte(body), "cpu_util", who.scope, who.own, postRulesTest())
		if !ok {
			took = false
		} else if wantErr != nil {
			t.Fatalf("scope %q: %q: the typed decoder took what the map decoder refuses (%v): %+v", who.scope, body, wantErr, got)
		} else if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("scope %q: %q: the decoders disagree (-map +typed):\n%s", who.scope, body, d)
		}
		// The handler's decoder answers as the map decoder, error or not.
		all, allErr := decodePosted([]byte(body), "cpu_util", who.scope, who.own, postRulesTest())
		if (allErr == nil) != (wantErr == nil) || (allErr != nil && allErr.Error() != wantErr.Error()) {
			t.Fatalf("scope %q: %q: decodePosted answers %v, the map decoder %v", who.scope, body, allErr, wantErr)
		}
		if wantErr == nil && ok {
			if d := cmp.Diff(want, all); d != "" {
				t.Fatalf("scope %q: %q: decodePosted disagrees with the map decoder:\n%s", who.scope, body, d)
			}
		}
	}
	return took
}

func TestPostDecodersAgree(t *testing.T) {
	for _, body := range postTyped {
		if !checkPostDecoders(t, body) {
			t.Errorf("the typed decoder left %q to the map decoder", body)
		}
	}
	for _, body := range append(append([]string{}, postSeeds...), postDiffer...) {
		checkPostDecoders(t, body)
	}
}

// FuzzPostDecoders: on any body, the typed decoder either leaves it to
// the map decoder or decodes exactly the samples the map decoder does.
func FuzzPostDecoders(f *testing.F) {
	for _, s := range postTyped {
		f.Add(s)
	}
	for _, s := range postDiffer {
		f.Add(s)
	}
	for _, s := range postSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) { checkPostDecoders(t, body) })
}
