package wire

import (
	"reflect"
	"testing"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

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
