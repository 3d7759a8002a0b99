package rawbatch

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

// viaProto is what Decoder.Decode must give: protobuf's decoder, then the
// sdk's conversion.
func viaProto(t testing.TB, b *Batch) sample.Batch {
	t.Helper()
	m, err := b.Decode()
	require.NoError(t, err)
	return wire.BatchFromProto(m)
}

// eventsBatch is a listener's batch: events of one definition whose
// traits repeat some values from event to event and change others.
func eventsBatch(id string, host string) *pb.Batch {
	text := func(name, v string) *pb.Trait { return &pb.Trait{Name: name, Value: &pb.Trait_Text{Text: v}} }
	return &pb.Batch{
		Samples: []*pb.Sample{{Name: "memory", Unit: "MB", Volume: 512, ResourceId: "i-" + id, ProjectId: "p",
			Timestamp: 1_700_000_000_000_000_001, MessageId: "s-" + id, MetadataKeys: []string{"host"}, MetadataValues: []string{host}}},
		Events: []*pb.Event{
			{MessageId: "e1-" + id, EventType: "compute.instance.exists", Generated: 1_700_000_000_000_000_002, Traits: []*pb.Trait{
				text("host", host), text("instance_id", "i-"+id), text("state", "active"),
				{Name: "memory_mb", Value: &pb.Trait_Int{Int: 512}},
				{Name: "launched_at", Value: &pb.Trait_Datetime{Datetime: 1_600_000_000_000_000_000}},
			}},
			{MessageId: "e2-" + id, EventType: "compute.instance.exists", Generated: 1_700_000_000_000_000_003, Traits: []*pb.Trait{
				text("host", host), text("instance_id", "j-"+id), text("state", "deleted"),
				// Same position, another name: its text is its own.
				text("flavor", "active"),
				{Name: "launched_at", Value: &pb.Trait_Float{Float: 0.5}},
			}},
			{MessageId: "e3-" + id, EventType: "compute.instance.delete.end", Generated: 4},
		},
	}
}

// TestDecoderMatchesProto: Decode gives what protobuf's decoder and
// BatchFromProto give, batch after batch on one decoder (whose reuse of
// the previous event's strings must not leak a value into the next), with
// samples and events interleaved (a concatenation of batches), and the
// result shares no memory with the batch's bytes.
func TestDecoderMatchesProto(t *testing.T) {
	t.Parallel()
	d := NewDecoder()
	var parts []*Batch
	for _, x := range []struct{ id, host string }{{"1", "h1"}, {"2", "h1"}, {"3", "h2"}} {
		b, err := FromProto(eventsBatch(x.id, x.host))
		require.NoError(t, err)
		parts = append(parts, b)
		got, err := d.Decode(b)
		require.NoError(t, err)
		require.Equal(t, viaProto(t, b), got)
	}
	first, err := FromProto(sampleBatch())
	require.NoError(t, err)
	parts = append(parts, first)
	all := Concat(parts)
	require.Equal(t, 5, all.Samples())

	// Decoded from a copy of the bytes, which is then overwritten.
	buf := append([]byte(nil), all.Bytes()...)
	b, err := Parse(buf)
	require.NoError(t, err)
	want := viaProto(t, b)
	got, err := d.Decode(b)
	require.NoError(t, err)
	require.Equal(t, want, got)
	for i := range buf {
		buf[i] = 'X'
	}
	require.Equal(t, viaProto(t, all), got, "decoded values must not share the batch's memory")

	none, err := d.Decode(nil)
	require.NoError(t, err)
	require.Equal(t, sample.Batch{}, none)
}

// TestDecoderOddEncodings: what an encoder other than ours may send and
// the proto decoder accepts: a trait without a value, a oneof set twice,
// a repeated scalar field, unknown fields, an empty raw payload.
func TestDecoderOddEncodings(t *testing.T) {
	t.Parallel()
	var trait []byte
	trait = protowire.AppendTag(trait, 1, protowire.BytesType)
	trait = protowire.AppendString(trait, "n")
	trait = protowire.AppendTag(trait, 2, protowire.BytesType)
	trait = protowire.AppendString(trait, "text")
	trait = protowire.AppendTag(trait, 3, protowire.VarintType) // the int wins
	trait = protowire.AppendVarint(trait, 7)
	trait = protowire.AppendTag(trait, 99, protowire.VarintType) // unknown
	trait = protowire.AppendVarint(trait, 1)
	var bare []byte // a trait with a name and no value: text ""
	bare = protowire.AppendTag(bare, 1, protowire.BytesType)
	bare = protowire.AppendString(bare, "bare")
	var ev []byte
	ev = protowire.AppendTag(ev, 1, protowire.BytesType)
	ev = protowire.AppendString(ev, "first")
	ev = protowire.AppendTag(ev, 1, protowire.BytesType) // the last wins
	ev = protowire.AppendString(ev, "second")
	ev = protowire.AppendTag(ev, 2, protowire.BytesType)
	ev = protowire.AppendString(ev, "t")
	ev = protowire.AppendTag(ev, 4, protowire.BytesType)
	ev = protowire.AppendBytes(ev, trait)
	ev = protowire.AppendTag(ev, 4, protowire.BytesType)
	ev = protowire.AppendBytes(ev, bare)
	ev = protowire.AppendTag(ev, 5, protowire.BytesType)
	ev = protowire.AppendBytes(ev, []byte("raw"))
	ev = protowire.AppendTag(ev, 5, protowire.BytesType) // empty, the last: none
	ev = protowire.AppendBytes(ev, nil)
	ev = protowire.AppendTag(ev, 6, protowire.Fixed32Type) // unknown
	ev = protowire.AppendFixed32(ev, 1)
	var data []byte
	data = protowire.AppendTag(data, 2, protowire.BytesType)
	data = protowire.AppendBytes(data, ev)
	data = protowire.AppendTag(data, 2, protowire.BytesType) // an empty event
	data = protowire.AppendBytes(data, nil)
	b, err := Parse(data)
	require.NoError(t, err)
	got, err := NewDecoder().Decode(b)
	require.NoError(t, err)
	require.Equal(t, viaProto(t, b), got)
	require.Equal(t, "second", got.Events[0].MessageID)
	require.Equal(t, sample.Trait{Name: "n", Type: sample.TraitInt, Int: 7}, got.Events[0].Traits[0])
	require.Equal(t, sample.Trait{Name: "bare", Type: sample.TraitText}, got.Events[0].Traits[1])
}

// FuzzDecoder: whatever Parse accepts, Decode decodes as protobuf's
// decoder and BatchFromProto do, twice in a row on one decoder.
func FuzzDecoder(f *testing.F) {
	for _, m := range []*pb.Batch{sampleBatch(), eventsBatch("1", "h")} {
		data, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0x12, 0x04, 0x22, 0x02, 0x18, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			return
		}
		var m pb.Batch
		if err := proto.Unmarshal(b.Bytes(), &m); err != nil {
			t.Fatalf("Parse accepted what proto refuses: %v", err)
		}
		want := wire.BatchFromProto(&m)
		d := NewDecoder()
		for range 2 {
			got, err := d.Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			require.Equal(t, want, got)
		}
	})
}

func BenchmarkDecoder(b *testing.B) {
	var parts []*Batch
	for i := range 100 {
		p, err := FromProto(eventsBatch(string(rune('a'+i%26)), "h"))
		require.NoError(b, err)
		parts = append(parts, p)
	}
	batch := Concat(parts)
	b.Run("proto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := batch.Decode()
			if err != nil {
				b.Fatal(err)
			}
			_ = wire.BatchFromProto(m)
		}
	})
	b.Run("decoder", func(b *testing.B) {
		b.ReportAllocs()
		d := NewDecoder()
		for b.Loop() {
			if _, err := d.Decode(batch); err != nil {
				b.Fatal(err)
			}
		}
	})
}
