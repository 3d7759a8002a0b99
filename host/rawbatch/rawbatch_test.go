package rawbatch

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

func sampleBatch() *pb.Batch {
	return &pb.Batch{
		Samples: []*pb.Sample{
			{Name: "cpu", Type: pb.SampleType_SAMPLE_TYPE_CUMULATIVE, Unit: "ns", Volume: 1.5, ResourceId: "r1", ProjectId: "p",
				UserId: "u", Timestamp: 1_700_000_000_000_000_000, Source: "s", MessageId: "m", MonotonicTime: 7,
				MetadataKeys: []string{"k"}, MetadataValues: []string{"ü"}, MessageSignature: "sig"},
			{Name: "mem", Volume: -2},
		},
		Events: []*pb.Event{{MessageId: "e", EventType: "t", Generated: 3, Raw: []byte{0xff, 0}, Traits: []*pb.Trait{
			{Name: "a", Value: &pb.Trait_Text{Text: "x"}}, {Name: "b", Value: &pb.Trait_Int{Int: -1}},
			{Name: "c", Value: &pb.Trait_Float{Float: 2}}, {Name: "d", Value: &pb.Trait_Datetime{Datetime: 4}},
		}}},
	}
}

func TestParseCountsAndDecodes(t *testing.T) {
	t.Parallel()
	want := sampleBatch()
	data, err := proto.Marshal(want)
	require.NoError(t, err)
	b, err := Parse(data)
	require.NoError(t, err)
	require.Equal(t, 2, b.Samples())
	require.Equal(t, 1, b.Events())
	got, err := b.Decode()
	require.NoError(t, err)
	require.True(t, proto.Equal(want, got))

	empty, err := Parse(nil)
	require.NoError(t, err)
	require.Equal(t, 0, empty.Len())
	var none *Batch
	require.Equal(t, 0, none.Len())
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	good, err := proto.Marshal(sampleBatch())
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"truncated":           good[:len(good)-3],
		"sample name utf8":    {0x0a, 0x03, 0x0a, 0x01, 0xff},
		"volume wire type":    {0x0a, 0x02, 0x20, 0x01},
		"samples wire type":   {0x08, 0x01},
		"sample length":       {0x0a, 0x7f, 0x0a},
		"trait text utf8":     {0x12, 0x05, 0x22, 0x03, 0x12, 0x01, 0xc3},
		"field number zero":   {0x02, 0x00},
		"overlong varint":     {0x0a, 0x0b, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"unterminated group":  {0x0b},
		"event raw truncated": {0x12, 0x03, 0x2a, 0x05, 0x00},
	} {
		_, err := Parse(data)
		require.ErrorIs(t, err, ErrMalformed, name)
	}
}

func TestConcatIsMerge(t *testing.T) {
	t.Parallel()
	a, err := FromProto(sampleBatch())
	require.NoError(t, err)
	b, err := FromProto(&pb.Batch{Samples: []*pb.Sample{{Name: "third"}}})
	require.NoError(t, err)
	c := Concat([]*Batch{a, b})
	require.Equal(t, 3, c.Samples())
	require.Equal(t, 1, c.Events())
	got, err := c.Decode()
	require.NoError(t, err)
	require.Equal(t, "third", got.GetSamples()[2].GetName())
	again, err := Parse(c.Bytes())
	require.NoError(t, err)
	require.Equal(t, c.Len(), again.Len())
}

func TestCodec(t *testing.T) {
	t.Parallel()
	b, err := FromProto(sampleBatch())
	require.NoError(t, err)
	c := Codec{}
	require.Equal(t, "proto", c.Name())

	// A Msg is sent as the message the plugin expects.
	out, err := c.Marshal(&Msg{Batch: b})
	require.NoError(t, err)
	var req pb.TransformRequest
	require.NoError(t, proto.Unmarshal(out.Materialize(), &req))
	require.True(t, proto.Equal(sampleBatch(), req.GetBatch()))
	out, err = c.Marshal(&Msg{})
	require.NoError(t, err)
	require.NoError(t, proto.Unmarshal(out.Materialize(), &req))
	require.Empty(t, req.GetBatch().GetSamples())

	// A response comes back as its batch's bytes.
	resp, err := proto.Marshal(&pb.TransformResponse{Batch: sampleBatch()})
	require.NoError(t, err)
	var m Msg
	require.NoError(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(resp)}, &m))
	require.NoError(t, m.Err)
	require.Equal(t, 3, m.Batch.Len())

	// A delivery with a bad batch keeps its id, so it can be refused.
	d := Delivery{}
	bad := []byte{0x08, 0x2a, 0x12, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xff}
	require.NoError(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(bad)}, &d))
	require.Equal(t, uint64(42), d.ID)
	require.ErrorIs(t, d.Err, ErrMalformed)
	// A broken frame is an error of the call.
	require.ErrorIs(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x08})}, &Delivery{}), ErrMalformed)

	good, err := proto.Marshal(&pb.Delivery{Id: 7, Batch: sampleBatch()})
	require.NoError(t, err)
	d = Delivery{}
	require.NoError(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(good)}, &d))
	require.NoError(t, d.Err)
	require.Equal(t, uint64(7), d.ID)
	require.Equal(t, 3, d.Batch.Len())

	// The ready marker (id 0, no batch) is told from an empty batch.
	marker, err := proto.Marshal(&pb.Delivery{})
	require.NoError(t, err)
	d = Delivery{}
	require.NoError(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(marker)}, &d))
	require.Zero(t, d.ID)
	require.Nil(t, d.Batch)
	empty, err := proto.Marshal(&pb.Delivery{Id: 3, Batch: &pb.Batch{}})
	require.NoError(t, err)
	d = Delivery{}
	require.NoError(t, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(empty)}, &d))
	require.NotNil(t, d.Batch)
	require.Zero(t, d.Batch.Len())

	// Other messages use the proto codec.
	ack, err := c.Marshal(&pb.Ack{Id: 9})
	require.NoError(t, err)
	var back pb.Ack
	require.NoError(t, c.Unmarshal(ack, &back))
	require.Equal(t, uint64(9), back.GetId())
}

// FuzzParse: whatever Parse accepts, the proto decoder accepts, with the
// same counts; nothing panics.
func FuzzParse(f *testing.F) {
	good, err := proto.Marshal(sampleBatch())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, 0xff})
	f.Add([]byte{0x12, 0x05, 0x22, 0x03, 0x12, 0x01, 0xc3})
	f.Add([]byte{})
	f.Add([]byte{0x1a, 0x04, 0x0a, 0x02, 0x6e, 0x31, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Parse(data)
		if err != nil {
			return
		}
		var m pb.Batch
		if err := proto.Unmarshal(data, &m); err != nil {
			t.Fatalf("Parse accepted what proto refuses: %v", err)
		}
		if b.Samples() != len(m.GetSamples()) || b.Events() != len(m.GetEvents()) {
			t.Fatalf("counts %d/%d, proto %d/%d", b.Samples(), b.Events(), len(m.GetSamples()), len(m.GetEvents()))
		}
		var d Delivery
		frame := append([]byte{0x08, 0x01, 0x12}, appendVarint(nil, len(data))...)
		if err := (Codec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(append(frame, data...))}, &d); err != nil || d.Err != nil {
			t.Fatalf("delivery of an accepted batch: %v %v", err, d.Err)
		}
	})
}

func appendVarint(b []byte, n int) []byte {
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

func TestParseNamesABadFieldNumber(t *testing.T) {
	t.Parallel()
	// A tag whose field number is above 2^29-1, inside a sample.
	_, err := Parse([]byte{0x0a, 0x05, 0x80, 0x80, 0x80, 0x80, 0x20})
	require.ErrorIs(t, err, ErrMalformed)
	require.Contains(t, err.Error(), "invalid field number")
}

// A listener's raw notifications (Batch field 3) are split off: kept for
// the host's archive, never forwarded.
func TestParseSplitsNotifications(t *testing.T) {
	t.Parallel()
	samples, err := proto.Marshal(sampleBatch())
	require.NoError(t, err)
	// notification{message_id: "n1", raw: "{}", expires: 5}
	note := []byte{0x0a, 0x02, 'n', '1', 0x62, 0x02, '{', '}', 0x68, 0x05}
	data := append([]byte{0x1a, byte(len(note))}, note...)
	data = append(data, samples...)
	b, err := Parse(data)
	require.NoError(t, err)
	require.Equal(t, [][]byte{note}, b.Notifications())
	require.Equal(t, samples, b.Bytes())
	require.Equal(t, 3, b.Len())

	bad := []byte{0x1a, 0x03, 0x0a, 0x01, 0xff}
	_, err = Parse(bad)
	require.ErrorIs(t, err, ErrMalformed)
	require.Contains(t, err.Error(), "notification 0")
}

// FromSamples encodes as protobuf's encoder does, and its batch passes the
// host's check.
func TestFromSamples(t *testing.T) {
	t.Parallel()
	want := wire.SamplesFromProto(sampleBatch().GetSamples())
	b, err := FromSamples(want)
	require.NoError(t, err)
	require.Equal(t, len(want), b.Samples())
	checked, err := Parse(b.Bytes())
	require.NoError(t, err)
	require.Equal(t, b.Samples(), checked.Samples())
	m, err := b.Decode()
	require.NoError(t, err)
	require.Equal(t, want, wire.SamplesFromProto(m.GetSamples()))

	_, err = FromSamples([]sample.Sample{{Name: "\xff"}})
	require.ErrorContains(t, err, "encode batch")
}

// FuzzPlainSample: plainSample accepts only what check accepts.
func FuzzPlainSample(f *testing.F) {
	for _, s := range sampleBatch().GetSamples() {
		good, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(good)
	}
	f.Add([]byte{0x0a, 0x01, 0xff})
	f.Add([]byte{0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})
	f.Add([]byte{0x0a, 0x80, 0x01})
	f.Add([]byte{0x21, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if plainSample(data) {
			if err := check(data, sampleSchema); err != nil {
				t.Fatalf("plainSample accepted what check refuses: %v", err)
			}
		}
	})
}

func TestPlainSample(t *testing.T) {
	for _, s := range []*pb.Sample{asciiSample(), {Name: "mem", Volume: -2}, {}} {
		data, err := proto.Marshal(s)
		require.NoError(t, err)
		require.True(t, plainSample(data), "an ordinary sample takes the fast path")
	}
	long, err := proto.Marshal(&pb.Sample{ResourceId: strings.Repeat("r", 300), Timestamp: math.MaxInt64})
	require.NoError(t, err)
	require.True(t, plainSample(long), "two-byte length, nine-byte varint")
	for name, data := range map[string][]byte{
		"non-ASCII name":      {0x0a, 0x02, 0xc3, 0xa9},
		"truncated string":    {0x0a, 0x05, 'a'},
		"unknown field":       {0x78, 0x01},
		"wrong wire type":     {0x12, 0x00},
		"truncated volume":    {0x21, 0x00, 0x00},
		"10-byte timestamp":   {0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"unterminated varint": {0x40, 0xff},
	} {
		require.False(t, plainSample(data), name)
	}
}

// asciiSample is a sample as the socket listener sends them.
func asciiSample() *pb.Sample {
	return &pb.Sample{Name: "disk.read.bytes", Type: pb.SampleType_SAMPLE_TYPE_GAUGE, Unit: "B", Volume: 123456,
		ResourceId: "res-0042", ProjectId: "proj-02", Timestamp: 1_700_000_000_123_456_789,
		MetadataKeys: []string{"host"}, MetadataValues: []string{"node-42"}}
}

// BenchmarkParse parses a batch of 1,000 samples like the pipeline
// benchmark's.
func BenchmarkParse(b *testing.B) {
	m := &pb.Batch{}
	for range 1000 {
		m.Samples = append(m.Samples, asciiSample())
	}
	data, err := proto.Marshal(m)
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
