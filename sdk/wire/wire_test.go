package wire

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
)

func testSamples(n, meta int) []sample.Sample {
	out := make([]sample.Sample, n)
	for i := range out {
		out[i] = sample.Sample{Name: fmt.Sprintf("m%d", i), Type: sample.Delta, Unit: "B", Volume: float64(i),
			ResourceID: "r", Timestamp: time.Unix(int64(i+1), 0).UTC(), MonotonicTime: time.Second, Signature: "s"}
		if meta > 0 {
			out[i].Metadata = map[string]string{}
			for j := range meta + i%2 {
				out[i].Metadata[fmt.Sprintf("k%d", j)] = fmt.Sprintf("v%d.%d", i, j)
			}
		}
	}
	return out
}

// An Encoder reused across batches of different sizes converts each one as
// a fresh conversion does.
func TestEncoderReuse(t *testing.T) {
	t.Parallel()
	var e Encoder
	for _, tc := range []struct{ n, meta int }{{10, 2}, {3, 0}, {50, 3}, {1, 1}} {
		b := &sample.Batch{Samples: testSamples(tc.n, tc.meta)}
		got, err := proto.Marshal(e.Batch(b))
		require.NoError(t, err)
		var back pb.Batch
		require.NoError(t, proto.Unmarshal(got, &back))
		require.Equal(t, b.Samples, BatchFromProto(&back).Samples, "n=%d meta=%d", tc.n, tc.meta)
	}
	require.Empty(t, e.Batch(nil).GetSamples())
}

func BenchmarkBatchToProto(b *testing.B) {
	batch := &sample.Batch{Samples: testSamples(1000, 2)}
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = BatchToProto(batch)
		}
	})
	b.Run("encoder", func(b *testing.B) {
		b.ReportAllocs()
		var e Encoder
		for b.Loop() {
			_ = e.Batch(batch)
		}
	})
}

func TestBatchNotificationsRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.UTC)
	in := sample.Batch{Notifications: []sample.Notification{
		{MessageID: "m1", EventType: "compute.instance.create.end", Priority: "info", PublisherID: "compute.h1", Host: "h1",
			Timestamp: at, RequestID: "req-1", ProjectID: "p", UserID: "u", ResourceID: "vm", Reason: "unmatched",
			Raw: []byte(`{"a":1}`), Expires: at.Add(time.Hour)},
		{MessageID: "m2"},
	}}
	got := BatchFromProto(BatchToProto(&in))
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("got %+v\nwant %+v", got, in)
	}
}

// An Encoder converts a batch's notifications too, and a reused one does
// not carry them into the next batch.
func TestEncoderNotifications(t *testing.T) {
	t.Parallel()
	var e Encoder
	in := &sample.Batch{Samples: testSamples(2, 1), Notifications: []sample.Notification{{MessageID: "m1", EventType: "e"}}}
	got, err := proto.Marshal(e.Batch(in))
	require.NoError(t, err)
	var back pb.Batch
	require.NoError(t, proto.Unmarshal(got, &back))
	require.Equal(t, in.Notifications, BatchFromProto(&back).Notifications)
	require.Empty(t, e.Batch(&sample.Batch{Samples: testSamples(1, 0)}).GetNotifications())
}
