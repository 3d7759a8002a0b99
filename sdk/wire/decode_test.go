package wire

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
)

// richBatch has every field of every item set, some to edge values.
func richBatch() *sample.Batch {
	s := testSamples(20, 2)
	s[0].Volume = math.NaN()
	s[1].Volume = math.Copysign(0, -1)
	s[2].Volume = math.Inf(-1)
	s[3].Timestamp = time.Unix(-5, 7).UTC()
	s[4].MonotonicTime = -time.Second
	s[5].Type = sample.Type(200)
	s[6].Metadata = map[string]string{"": ""}
	s[7].Name = "é ✓"
	s[8].MessageID, s[8].ProjectID, s[8].UserID, s[8].Source = "id-8", "p", "u", "openstack"
	s[9].ResourceID = string(make([]byte, internMaxLen+1))
	return &sample.Batch{
		Samples: s,
		Events: []sample.Event{{MessageID: "e1", EventType: "compute.instance.create.end", Generated: time.Unix(9, 0).UTC(),
			Traits: []sample.Trait{{Name: "t", Type: sample.TraitInt, Int: 3}, {Name: "x", Type: sample.TraitText, Text: "y"}}, Raw: []byte("{}")}},
		Notifications: []sample.Notification{{MessageID: "n1", EventType: "x.y", Raw: []byte("{}"), Timestamp: time.Unix(3, 0).UTC()}},
	}
}

// sameBatch compares two decoded batches, NaN volumes included.
func sameBatch(t testing.TB, want, got sample.Batch) {
	t.Helper()
	require.Equal(t, len(want.Samples), len(got.Samples), "samples")
	w := append([]sample.Sample(nil), want.Samples...)
	g := append([]sample.Sample(nil), got.Samples...)
	for i := range w {
		if math.Float64bits(w[i].Volume) != math.Float64bits(g[i].Volume) {
			t.Fatalf("sample %d: volume %v, want %v", i, g[i].Volume, w[i].Volume)
		}
		w[i].Volume, g[i].Volume = 0, 0
	}
	require.Equal(t, w, g)
	require.Equal(t, want.Events, got.Events)
	require.Equal(t, want.Notifications, got.Notifications)
}

// viaProto is what protobuf's decoder and BatchFromProto make of data.
func viaProto(t testing.TB, data []byte) (sample.Batch, error) {
	t.Helper()
	var m pb.Batch
	if err := proto.Unmarshal(data, &m); err != nil {
		return sample.Batch{}, err
	}
	return BatchFromProto(&m), nil
}

func TestDecoderMatchesProto(t *testing.T) {
	t.Parallel()
	data, err := proto.Marshal(BatchToProto(richBatch()))
	require.NoError(t, err)
	// Unknown fields at both levels, a known field with another wire type,
	// and the metadata lists interleaved.
	data = protowire.AppendTag(data, 9, protowire.VarintType)
	data = protowire.AppendVarint(data, 5)
	var extra []byte
	extra = protowire.AppendTag(extra, 1, protowire.VarintType) // name as a varint: unknown
	extra = protowire.AppendVarint(extra, 1)
	extra = protowire.AppendTag(extra, 12, protowire.BytesType)
	extra = protowire.AppendString(extra, "k")
	extra = protowire.AppendTag(extra, 99, protowire.Fixed32Type)
	extra = protowire.AppendFixed32(extra, 1)
	extra = protowire.AppendTag(extra, 13, protowire.BytesType)
	extra = protowire.AppendString(extra, "v")
	extra = protowire.AppendTag(extra, 12, protowire.BytesType)
	extra = protowire.AppendString(extra, "only-key")
	data = protowire.AppendTag(data, 1, protowire.BytesType)
	data = protowire.AppendBytes(data, extra)

	want, err := viaProto(t, data)
	require.NoError(t, err)
	var d Decoder
	for range 2 { // the second time from the interning table
		var got sample.Batch
		require.NoError(t, d.Batch(data, &got))
		sameBatch(t, want, got)
	}
	// A key without a value is dropped, as BatchFromProto drops it.
	require.Equal(t, map[string]string{"k": "v"}, want.Samples[len(want.Samples)-1].Metadata)

	samples, events, err := d.Samples(data, nil, nil)
	require.NoError(t, err)
	sameBatch(t, sample.Batch{Samples: want.Samples}, sample.Batch{Samples: samples})
	back, err := viaProto(t, events)
	require.NoError(t, err)
	require.Equal(t, want.Events, back.Events)
}

func TestDecoderRefuses(t *testing.T) {
	t.Parallel()
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	inSample := func(b []byte) []byte {
		return protowire.AppendBytes(tag(1, protowire.BytesType), b)
	}
	for name, data := range map[string][]byte{
		"truncated length":    {0x0a, 0x05, 0x0a},
		"bad utf-8 name":      inSample(protowire.AppendBytes(tag(1, protowire.BytesType), []byte{0xff})),
		"bad utf-8 meta":      inSample(protowire.AppendBytes(tag(13, protowire.BytesType), []byte{0xc3})),
		"bad utf-8 id":        inSample(protowire.AppendBytes(tag(10, protowire.BytesType), []byte{0xc3})),
		"field number 2^29":   inSample(protowire.AppendVarint(protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3), 1)),
		"field number 0":      {0x00, 0x01},
		"bad event":           protowire.AppendBytes(tag(2, protowire.BytesType), []byte{0x0a, 0x01, 0xff}),
		"truncated volume":    inSample(append(tag(4, protowire.Fixed64Type), 1, 2)),
		"end group top level": tag(7, protowire.EndGroupType),
	} {
		_, protoErr := viaProto(t, data)
		require.Error(t, protoErr, name)
		var b sample.Batch
		err := (&Decoder{}).Batch(data, &b)
		require.ErrorIs(t, err, ErrMalformed, name)
	}
}

// AppendBatch writes what protobuf's encoder writes: byte for byte without
// metadata (whose map has no order), and the same decoded batch with it.
func TestAppendBatchMatchesProto(t *testing.T) {
	t.Parallel()
	b := richBatch()
	got, err := AppendBatch(nil, b)
	require.NoError(t, err)
	want, err := proto.Marshal(BatchToProto(b))
	require.NoError(t, err)
	require.Len(t, got, len(want))
	wb, err := viaProto(t, want)
	require.NoError(t, err)
	gb, err := viaProto(t, got)
	require.NoError(t, err)
	sameBatch(t, wb, gb)

	plain := &sample.Batch{Samples: testSamples(5, 0)}
	got, err = AppendBatch(nil, plain)
	require.NoError(t, err)
	want, err = proto.Marshal(BatchToProto(plain))
	require.NoError(t, err)
	require.Equal(t, want, got)

	bad := &sample.Batch{Samples: testSamples(2, 1)}
	bad.Samples[1].Metadata["k"] = "\xff"
	_, err = AppendBatch(nil, bad)
	require.ErrorContains(t, err, "sample 1")
}

func TestCodec(t *testing.T) {
	t.Parallel()
	b := richBatch()
	c := &Codec{}

	// A plugin's answer decodes as the generated message.
	enc, err := c.Marshal(&BatchMessage{Batch: *b})
	require.NoError(t, err)
	var resp pb.TransformResponse
	require.NoError(t, proto.Unmarshal(enc.Materialize(), &resp))
	want, err := viaProto(t, mustMarshal(t, BatchToProto(b)))
	require.NoError(t, err)
	sameBatch(t, want, BatchFromProto(resp.GetBatch()))
	enc.Free()

	// A request the host sends (here in two pieces, and with the batch
	// field twice, which merges) decodes as protobuf's decoder has it.
	req := mustMarshal(t, &pb.PublishRequest{Batch: BatchToProto(b)})
	req = append(req, mustMarshal(t, &pb.PublishRequest{Batch: BatchToProto(&sample.Batch{Samples: testSamples(1, 0)})})...)
	var pr pb.PublishRequest
	require.NoError(t, proto.Unmarshal(req, &pr))
	var m BatchMessage
	require.NoError(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(req[:7]), mem.SliceBuffer(req[7:])}, &m))
	sameBatch(t, BatchFromProto(pr.GetBatch()), m.Batch)

	// With KeepRawEvents the events come back as they were sent.
	m = BatchMessage{KeepRawEvents: true, Decoder: &Decoder{}}
	require.NoError(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(req)}, &m))
	require.Nil(t, m.Batch.Events)
	enc, err = c.Marshal(&m)
	require.NoError(t, err)
	require.NoError(t, proto.Unmarshal(enc.Materialize(), &resp))
	require.True(t, proto.Equal(pr.GetBatch().GetEvents()[0], resp.GetBatch().GetEvents()[0]))
	require.Len(t, resp.GetBatch().GetSamples(), len(b.Samples)+1)

	// Deliveries, the ready marker (no batch) included.
	for _, d := range []*Delivery{{ID: 7, Batch: b}, {}, {ID: 1 << 40, Batch: &sample.Batch{}}} {
		enc, err := c.Marshal(d)
		require.NoError(t, err)
		var pd pb.Delivery
		require.NoError(t, proto.Unmarshal(enc.Materialize(), &pd))
		require.Equal(t, d.ID, pd.GetId())
		require.Equal(t, d.Batch != nil, pd.Batch != nil)
		if d.Batch != nil {
			got := BatchFromProto(pd.GetBatch())
			want, err := viaProto(t, mustMarshal(t, BatchToProto(d.Batch)))
			require.NoError(t, err)
			sameBatch(t, want, got)
		}
	}

	// Other messages go through the proto codec.
	enc, err = c.Marshal(&pb.Ack{Id: 3})
	require.NoError(t, err)
	var ack pb.Ack
	require.NoError(t, c.Unmarshal(enc, &ack))
	require.Equal(t, uint64(3), ack.GetId())
	require.Error(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x09})}, &BatchMessage{}))
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

// FuzzDecode: the Decoder accepts exactly what protobuf's decoder accepts
// and gives what BatchFromProto gives; AppendBatch of that decodes back to
// it.
func FuzzDecode(f *testing.F) {
	good, err := proto.Marshal(BatchToProto(richBatch()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, 0xff})
	f.Add([]byte{0x12, 0x05, 0x22, 0x03, 0x12, 0x01, 0xc3})
	f.Add([]byte{0x1a, 0x04, 0x0a, 0x02, 0x6e, 0x31, 0x0a, 0x00})
	f.Add([]byte{0x0a, 0x06, 0x62, 0x01, 0x6b, 0x6a, 0x01, 0x76})
	f.Add([]byte{0x0a, 0x04, 0x08, 0x01, 0x0b, 0x0c})
	f.Fuzz(func(t *testing.T, data []byte) {
		want, protoErr := viaProto(t, data)
		var got sample.Batch
		err := (&Decoder{}).Batch(data, &got)
		if (err == nil) != (protoErr == nil) {
			t.Fatalf("decoder error %v, protobuf error %v", err, protoErr)
		}
		if err != nil {
			return
		}
		sameBatch(t, want, got)
		samples, events, err := (&Decoder{}).Samples(data, nil, nil)
		if err != nil {
			t.Fatalf("Samples refused what Batch accepted: %v", err)
		}
		sameBatch(t, sample.Batch{Samples: want.Samples}, sample.Batch{Samples: samples})
		evs, err := viaProto(t, events)
		if err != nil {
			t.Fatalf("raw events do not decode: %v", err)
		}
		require.Equal(t, want.Events, evs.Events)
		back, err := AppendBatch(nil, &got)
		if err != nil {
			t.Fatalf("AppendBatch of a decoded batch: %v", err)
		}
		again, err := viaProto(t, back)
		if err != nil {
			t.Fatalf("AppendBatch output does not decode: %v", err)
		}
		// An empty metadata map (keys without values) encodes as none,
		// as SamplesToProto encodes it.
		for i := range want.Samples {
			if len(want.Samples[i].Metadata) == 0 {
				want.Samples[i].Metadata = nil
			}
		}
		sameBatch(t, want, again)
	})
}

func BenchmarkDecode(b *testing.B) {
	batch := &sample.Batch{Samples: testSamples(1000, 2)}
	for i := range batch.Samples {
		batch.Samples[i].Name = "cpu"
		batch.Samples[i].ResourceID = batch.Samples[i].Metadata["k0"]
	}
	data, err := proto.Marshal(BatchToProto(batch))
	require.NoError(b, err)
	b.Run("proto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m pb.Batch
			if err := proto.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
			_ = BatchFromProto(&m)
		}
	})
	b.Run("decoder", func(b *testing.B) {
		b.ReportAllocs()
		var d Decoder
		for b.Loop() {
			var out sample.Batch
			if err := d.Batch(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	batch := &sample.Batch{Samples: testSamples(1000, 2)}
	b.Run("proto", func(b *testing.B) {
		b.ReportAllocs()
		var e Encoder
		for b.Loop() {
			if _, err := proto.Marshal(e.Batch(batch)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("codec", func(b *testing.B) {
		b.ReportAllocs()
		m := &BatchMessage{Batch: *batch}
		c := &Codec{}
		for b.Loop() {
			enc, err := c.Marshal(m)
			if err != nil {
				b.Fatal(err)
			}
			enc.Free()
		}
	})
}
