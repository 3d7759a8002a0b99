package wire

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/altimeter/altimeter/sdk/sample"
)

// eventFrom builds an event from fuzz bytes: strings (valid UTF-8 or not),
// each trait type with zero and non-zero values, raw present or not.
func eventFrom(data []byte) sample.Event {
	take := func(n int) string {
		n = min(n, len(data))
		s := string(data[:n])
		data = data[n:]
		return s
	}
	e := sample.Event{MessageID: take(3), EventType: take(2)}
	if len(data) > 0 && data[0]%2 == 1 {
		e.Generated = time.Unix(0, int64(data[0])*1e15-5e16).UTC()
	}
	for len(data) >= 3 {
		op, v := data[0], int64(int8(data[1]))
		data = data[2:]
		t := sample.Trait{Name: take(int(op>>4) % 4)}
		switch op % 5 {
		case 0:
			t.Type, t.Text = sample.TraitText, take(int(op>>2)%6)
		case 1:
			t.Type, t.Int = sample.TraitInt, v*v*v*1e12
		case 2:
			t.Type, t.Float = sample.TraitFloat, float64(v)/3
			if v == 7 {
				t.Float = math.NaN()
			}
		case 3:
			t.Type = sample.TraitDatetime
			if v != 0 {
				t.Datetime = time.Unix(v*1e6, v).UTC()
			}
		default:
			t.Type = sample.TraitText // empty text: the oneof is still set
		}
		e.Traits = append(e.Traits, t)
	}
	if len(e.MessageID) > 1 {
		e.Raw = []byte(e.MessageID[1:])
	}
	return e
}

func FuzzAppendEvent(f *testing.F) {
	f.Add([]byte("abcde\x01x\x00k\x02\x05\x03\xff\x04\x00\x00"))
	f.Add([]byte("\xff\xfeab"))
	f.Add([]byte("id1ty\x20\x07\x30\x80\x11\xc3\x28zz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := eventFrom(data)
		raw, perr := proto.Marshal(EventToProto(&e))
		got, err := appendEvent(nil, &e)
		require.Equal(t, perr == nil, err == nil, "protobuf: %v, appendEvent: %v", perr, err)
		if err != nil {
			return
		}
		want := protowire.AppendTag(nil, 2, protowire.BytesType)
		want = protowire.AppendBytes(want, raw)
		require.Equal(t, want, got)
	})
}

func TestAppendEvent(t *testing.T) {
	t.Parallel()
	e := sample.Event{MessageID: "m", EventType: "compute.instance.exists", Generated: time.Unix(9, 0),
		Traits: []sample.Trait{{Name: "zero", Type: sample.TraitInt}, {Name: "empty"}, {Name: "f", Type: sample.TraitFloat, Float: math.Copysign(0, -1)},
			{Name: "when", Type: sample.TraitDatetime}, {Name: "neg", Type: sample.TraitInt, Int: -5}}, Raw: []byte("{}")}
	raw, err := proto.Marshal(EventToProto(&e))
	require.NoError(t, err)
	got, err := appendEvent(nil, &e)
	require.NoError(t, err)
	require.Equal(t, protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), raw), got)

	e.Traits[1].Text = "\xff"
	_, err = appendEvent(nil, &e)
	require.ErrorIs(t, err, errUTF8)
	e.Traits[1].Text, e.EventType = "", "\xc3"
	_, err = appendEvent(nil, &e)
	require.ErrorIs(t, err, errUTF8)
}

// BenchmarkEncodeEvents encodes a listener's batch of 500 events of 20
// traits: protobuf's encoder (through EventToProto) against appendEvent.
func BenchmarkEncodeEvents(b *testing.B) {
	evs := make([]sample.Event, 500)
	for i := range evs {
		tr := make([]sample.Trait, 20)
		for j := range tr {
			tr[j] = sample.Trait{Name: "trait_" + string(rune('a'+j)), Type: sample.TraitText, Text: "value of some length"}
		}
		tr[3] = sample.Trait{Name: "memory_mb", Type: sample.TraitInt, Int: 2048}
		tr[4] = sample.Trait{Name: "launched_at", Type: sample.TraitDatetime, Datetime: time.Unix(1700000000, 0)}
		evs[i] = sample.Event{MessageID: "0f8fad5b-d9cb-469f-a165-70867728950e", EventType: "compute.instance.exists",
			Generated: time.Unix(1700000000, int64(i)), Traits: tr, Raw: make([]byte, 2000)}
	}
	b.Run("proto", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = buf[:0]
			for i := range evs {
				var err error
				if buf, err = appendMessage(buf, 2, EventToProto(&evs[i])); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = buf[:0]
			for i := range evs {
				var err error
				if buf, err = appendEvent(buf, &evs[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
