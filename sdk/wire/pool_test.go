package wire

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
)

func TestBufferPool(t *testing.T) {
	var p bufferPool
	for _, size := range []int{0, 1, 4096, 4097, 100_000, 1 << 26, 1<<26 + 1} {
		b := p.Get(size)
		if len(*b) != size {
			t.Fatalf("Get(%d): len %d", size, len(*b))
		}
		if tr := tier(size); tr >= 0 && cap(*b) != 1<<(minPoolShift+tr) {
			t.Fatalf("Get(%d): cap %d, want tier %d", size, cap(*b), tr)
		}
		p.Put(b)
	}
	if tier(1<<26+1) != -1 || tier(0) != -1 || tier(4096) != 0 || tier(4097) != 1 {
		t.Fatal("tier bounds")
	}
	// A buffer of a size no tier holds is not pooled.
	odd := make([]byte, 5000)
	p.Put(&odd)
	if b := p.Get(5000); cap(*b) != 8192 {
		t.Fatalf("Get(5000) after Put of an odd buffer: cap %d", cap(*b))
	}
}

// TestCodecReusesBuffers: batches past gRPC's pooling threshold go through
// the codec's pool, whose buffers come back uncleared; a smaller batch
// encoded or gathered into a buffer a larger one used is still exact.
func TestCodecReusesBuffers(t *testing.T) {
	// No collection empties the pool between batches here.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	c := &Codec{}
	for _, n := range []int{2000, 1900, 2000, 1800} { // sizes of one tier
		b := &sample.Batch{Samples: testSamples(n, 2)}
		enc, err := c.Marshal(&BatchMessage{Batch: *b})
		require.NoError(t, err)
		raw := enc.Materialize()
		require.False(t, mem.IsBelowBufferPoolingThreshold(len(raw)), "a pooled buffer")
		var resp pb.TransformResponse
		require.NoError(t, proto.Unmarshal(raw, &resp))
		want, err := viaProto(t, mustMarshal(t, BatchToProto(b)))
		require.NoError(t, err)
		sameBatch(t, want, BatchFromProto(resp.GetBatch()))

		// Received in pieces, as gRPC hands over a message's frames.
		var m BatchMessage
		pieces := mem.BufferSlice{mem.SliceBuffer(raw[:len(raw)/3]), mem.SliceBuffer(raw[len(raw)/3:])}
		require.NoError(t, c.Unmarshal(pieces, &m))
		sameBatch(t, want, m.Batch)
		enc.Free()
	}
}
