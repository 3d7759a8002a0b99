package wire

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
)

// oddBatch is richBatch's encoding with what a decoder skips or merges:
// unknown fields at both levels, a known field with another wire type,
// repeated scalar fields (the last wins), metadata lists interleaved,
// repeated keys, keys without values, and a sample whose only metadata is
// a key without a value.
func oddBatch(t testing.TB) []byte {
	t.Helper()
	data, err := proto.Marshal(BatchToProto(richBatch()))
	require.NoError(t, err)
	data = protowire.AppendTag(data, 9, protowire.VarintType)
	data = protowire.AppendVarint(data, 5)
	str := func(b []byte, num protowire.Number, s string) []byte {
		return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
	}
	var x []byte
	x = str(x, 1, "first")
	x = protowire.AppendVarint(protowire.AppendTag(x, 1, protowire.VarintType), 1) // name as a varint: skipped
	x = str(x, 12, "k")
	x = protowire.AppendFixed32(protowire.AppendTag(x, 99, protowire.Fixed32Type), 1)
	x = str(x, 13, "v")
	x = str(x, 12, "k")
	x = str(x, 1, "last")
	x = str(x, 13, "v2")
	x = str(x, 12, "only-key")
	x = str(x, 12, "k")
	x = protowire.AppendVarint(protowire.AppendTag(x, 2, protowire.VarintType), 1<<40|2) // type, truncated to int32
	x = str(x, 14, "sig")
	data = protowire.AppendBytes(protowire.AppendTag(data, 1, protowire.BytesType), x)
	var y []byte
	y = str(y, 1, "lonely")
	y = str(y, 12, "no-value")
	data = protowire.AppendBytes(protowire.AppendTag(data, 1, protowire.BytesType), y)
	return data
}

// decodeAll is what Decoder gives for data, as a batch.
func decodeAll(t testing.TB, data []byte) sample.Batch {
	t.Helper()
	var b sample.Batch
	require.NoError(t, (&Decoder{}).Batch(data, &b))
	return b
}

// checkViews checks BatchView against Decoder.Samples on data: the same
// verdict, the same samples (scalar fields from the views, metadata looked
// up key by key), the same events; and what AppendSample and AppendDerived
// write decodes to what the decode path (decode, change, AppendBatch)
// gives.
func checkViews(t *testing.T, data []byte) {
	ss, events, derr := (&Decoder{}).Samples(data, nil, nil)
	var bv BatchView
	verr := bv.Parse(data)
	if (derr == nil) != (verr == nil) {
		t.Fatalf("view error %v, decoder error %v", verr, derr)
	}
	if verr != nil {
		require.ErrorIs(t, verr, ErrMalformed)
		return
	}
	require.Equal(t, events, bv.Events, "events")
	require.Len(t, bv.Samples, len(ss))
	var kept, derived []byte
	wantDerived := make([]sample.Sample, len(ss))
	for i := range ss {
		v := &bv.Samples[i]
		got, want := v.Sample, ss[i]
		want.Metadata = nil
		if math.IsNaN(want.Volume) {
			require.True(t, math.IsNaN(got.Volume))
			got.Volume, want.Volume = 0, 0
		}
		require.Equal(t, want, got, "sample %d", i)
		// Every key the record names, and one it does not.
		for k := range allKeys(v) {
			val, ok := v.Meta(k)
			wv, wok := ss[i].Metadata[k]
			require.Equal(t, wok, ok, "sample %d key %q", i, k)
			require.Equal(t, wv, val, "sample %d key %q", i, k)
		}
		_, ok := v.Meta("\x00absent")
		require.False(t, ok)
		kept = AppendSample(kept, v)
		// A derived sample: some fields changed, others equal by value.
		d := v.Sample
		d.Name, d.Type, d.Volume, d.MessageID, d.Signature = "derived."+d.Name, sample.Gauge, float64(i), "id", ""
		var err error
		derived, err = AppendDerived(derived, v, &d)
		require.NoError(t, err)
		d.Metadata = ss[i].Metadata
		wantDerived[i] = d
	}
	// The decode path encodes what it decoded (an empty map as none).
	for i := range ss {
		if len(ss[i].Metadata) == 0 {
			ss[i].Metadata = nil
		}
		if len(wantDerived[i].Metadata) == 0 {
			wantDerived[i].Metadata = nil
		}
	}
	sameBatch(t, sample.Batch{Samples: ss}, decodeAll(t, kept))
	sameBatch(t, sample.Batch{Samples: wantDerived}, decodeAll(t, derived))
	viaEncoder, err := AppendBatch(nil, &sample.Batch{Samples: wantDerived})
	require.NoError(t, err)
	sameBatch(t, decodeAll(t, viaEncoder), decodeAll(t, derived))
}

// allKeys yields the metadata keys of v's record.
func allKeys(v *SampleView) map[string]bool {
	keys := map[string]bool{}
	rec := v.Record()
	for off := 0; off < len(rec); {
		num, typ, n := protowire.ConsumeTag(rec[off:])
		off += n
		if num == 12 && typ == protowire.BytesType {
			b, m := protowire.ConsumeBytes(rec[off:])
			keys[string(b)] = true
			off += m
			continue
		}
		off += protowire.ConsumeFieldValue(num, typ, rec[off:])
	}
	return keys
}

func TestBatchView(t *testing.T) {
	t.Parallel()
	good, err := proto.Marshal(BatchToProto(richBatch()))
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"rich":  good,
		"odd":   oddBatch(t),
		"empty": nil,
	} {
		t.Run(name, func(t *testing.T) { checkViews(t, data) })
	}
	// The odd sample: the last name, the type truncated as the decoder
	// does, the last pairing of "k" that has a value.
	var bv BatchView
	require.NoError(t, bv.Parse(oddBatch(t)))
	odd := &bv.Samples[len(bv.Samples)-2]
	require.Equal(t, "last", odd.Sample.Name)
	require.Equal(t, sample.Type(2), odd.Sample.Type)
	v, ok := odd.Meta("k")
	require.True(t, ok)
	require.Equal(t, "v2", v, "the third k has no value: the second one's wins")
	_, ok = odd.Meta("only-key")
	require.False(t, ok)
	// LoadMeta: only the keys asked for, whatever the map held.
	m := map[string]string{"zzz": "1", "only-key": "x"}
	odd.LoadMeta(m, []string{"k", "only-key"})
	require.Equal(t, map[string]string{"k": "v2"}, odd.Sample.Metadata)
	odd.LoadMeta(m, []string{"k"})
	require.Equal(t, map[string]string{"k": "v2"}, odd.Sample.Metadata)
	odd.LoadMeta(m, nil)
	require.Nil(t, odd.Sample.Metadata)
}

// A view's strings alias the batch: reading a batch (of samples; an event
// is checked by protobuf's decoder) allocates nothing once the views have
// grown, nor does writing it.
func TestBatchViewAllocs(t *testing.T) {
	data, err := AppendBatch(nil, &sample.Batch{Samples: testSamples(50, 3)})
	require.NoError(t, err)
	var bv BatchView
	out := make([]byte, 0, 2*len(data))
	allocs := testing.AllocsPerRun(20, func() {
		if err := bv.Parse(data); err != nil {
			t.Fatal(err)
		}
		out = out[:0]
		for i := range bv.Samples {
			v := &bv.Samples[i]
			if _, ok := v.Meta("k1"); !ok {
				t.Fatal("no k1")
			}
			d := v.Sample
			d.Name, d.Volume = "x", 1
			if out, err = AppendDerived(out, v, &d); err != nil {
				t.Fatal(err)
			}
			out = AppendSample(out, v)
		}
	})
	require.Zero(t, allocs)
}

func TestBatchViewRefuses(t *testing.T) {
	t.Parallel()
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	inSample := func(b []byte) []byte { return protowire.AppendBytes(tag(1, protowire.BytesType), b) }
	good := inSample(protowire.AppendString(tag(1, protowire.BytesType), "cpu"))
	for name, data := range map[string][]byte{
		"truncated length":     {0x0a, 0x05, 0x0a},
		"bad utf-8 name":       inSample(protowire.AppendBytes(tag(1, protowire.BytesType), []byte{0xff})),
		"bad utf-8 meta":       inSample(protowire.AppendBytes(tag(13, protowire.BytesType), []byte{0xc3})),
		"bad utf-8 long meta":  inSample(protowire.AppendBytes(tag(12, protowire.BytesType), append(make([]byte, 40), 0xc3))),
		"bad utf-8 id":         inSample(protowire.AppendBytes(tag(10, protowire.BytesType), []byte{0xc3})),
		"bad utf-8 signature":  inSample(protowire.AppendBytes(tag(14, protowire.BytesType), []byte{0xc3})),
		"field number 2^29":    inSample(protowire.AppendVarint(protowire.AppendVarint(nil, uint64(protowire.MaxValidNumber+1)<<3), 1)),
		"field number 0":       {0x00, 0x01},
		"sample field 0":       inSample([]byte{0x00, 0x01}),
		"bad event":            protowire.AppendBytes(tag(2, protowire.BytesType), []byte{0x0a, 0x01, 0xff}),
		"truncated volume":     inSample(append(tag(4, protowire.Fixed64Type), 1, 2)),
		"truncated timestamp":  inSample(append(tag(8, protowire.VarintType), 0x80)),
		"end group top level":  tag(7, protowire.EndGroupType),
		"good then bad sample": append(good, inSample(protowire.AppendBytes(tag(5, protowire.BytesType), []byte{0xff}))...),
	} {
		var bv BatchView
		require.ErrorIs(t, bv.Parse(data), ErrMalformed, name)
		require.Empty(t, bv.Samples, name)
		_, _, err := (&Decoder{}).Samples(data, nil, nil)
		require.ErrorIs(t, err, ErrMalformed, name)
	}
}

// AppendDerived refuses a new string the encoder would refuse.
func TestAppendDerivedRefusesBadUTF8(t *testing.T) {
	t.Parallel()
	data, err := AppendBatch(nil, &sample.Batch{Samples: testSamples(1, 1)})
	require.NoError(t, err)
	var bv BatchView
	require.NoError(t, bv.Parse(data))
	d := bv.Samples[0].Sample
	d.Unit = "\xff"
	_, err = AppendDerived(nil, &bv.Samples[0], &d)
	require.Error(t, err)
}

// FuzzBatchView: a BatchView refuses exactly what Decoder.Samples refuses,
// reads what it reads, and what AppendSample and AppendDerived write
// decodes as the decode path's encoding of the same samples.
func FuzzBatchView(f *testing.F) {
	good, err := proto.Marshal(BatchToProto(richBatch()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(oddBatch(f))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, 0xff})
	f.Add([]byte{0x12, 0x05, 0x22, 0x03, 0x12, 0x01, 0xc3})
	f.Add([]byte{0x1a, 0x04, 0x0a, 0x02, 0x6e, 0x31, 0x0a, 0x00})
	f.Add([]byte{0x0a, 0x06, 0x62, 0x01, 0x6b, 0x6a, 0x01, 0x76})
	f.Add([]byte{0x0a, 0x04, 0x08, 0x01, 0x0b, 0x0c})
	f.Fuzz(func(t *testing.T, data []byte) { checkViews(t, data) })
}

// A KeepBytes request keeps its batch as bytes (several occurrences of the
// field joined, other fields dropped) in a pooled buffer; a Reply sends
// bytes as they are.
func TestCodecKeepBytes(t *testing.T) {
	t.Parallel()
	a, err := AppendBatch(nil, &sample.Batch{Samples: testSamples(3, 2)})
	require.NoError(t, err)
	b, err := AppendBatch(nil, &sample.Batch{Samples: testSamples(2, 0)})
	require.NoError(t, err)
	var req []byte
	req = protowire.AppendBytes(protowire.AppendTag(req, 1, protowire.BytesType), a)
	req = protowire.AppendVarint(protowire.AppendTag(req, 7, protowire.VarintType), 3)
	req = protowire.AppendBytes(protowire.AppendTag(req, 1, protowire.BytesType), b)
	// The request in two buffers, as gRPC may hand it over.
	half := len(req) / 2
	in := mem.BufferSlice{mem.SliceBuffer(req[:half]), mem.SliceBuffer(req[half:])}
	var c Codec
	m := &BatchMessage{KeepBytes: true}
	require.NoError(t, c.Unmarshal(in, m))
	require.Equal(t, append(append([]byte(nil), a...), b...), m.Encoded)
	require.NotNil(t, m.pool, "from the codec's pool")

	out := append(m.Buffer(len(m.Encoded)), a...)
	m.Free()
	require.Nil(t, m.Encoded)
	enc, err := c.Marshal(m.Reply(out))
	require.NoError(t, err)
	var resp pb.TransformResponse
	require.NoError(t, proto.Unmarshal(enc.Materialize(), &resp))
	enc.Free()
	sameBatch(t, decodeAll(t, a), BatchFromProto(resp.GetBatch()))

	// Refused framing is ErrMalformed, and an empty reply is an empty batch.
	require.ErrorIs(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x05})}, &BatchMessage{KeepBytes: true}), ErrMalformed)
	enc, err = c.Marshal((&BatchMessage{}).Reply(nil))
	require.NoError(t, err)
	require.NoError(t, proto.Unmarshal(enc.Materialize(), &resp))
	require.Empty(t, resp.GetBatch().GetSamples())
}

func BenchmarkBatchView(b *testing.B) {
	data, err := AppendBatch(nil, &sample.Batch{Samples: testSamples(1000, 5)})
	if err != nil {
		b.Fatal(err)
	}
	var bv BatchView
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := bv.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/sample")
}
