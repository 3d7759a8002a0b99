package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "archive.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func note(id, typ, prio, project, req string, at time.Time) sample.Notification {
	raw, _ := json.Marshal(map[string]any{"message_id": id, "event_type": typ, "priority": prio,
		"payload": map[string]any{"tenant_id": project, "instance_id": "i-1"}})
	return sample.Notification{MessageID: id, EventType: typ, Priority: prio, PublisherID: "compute.host-" + project,
		Timestamp: at, RequestID: req, ProjectID: project, UserID: "u-" + project, ResourceID: "i-1", Raw: raw}
}

func ids(es []Entry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.MessageID)
	}
	return out
}

func TestPutListGet(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	batch := []sample.Notification{
		note("m3", "compute.instance.create.end", "info", "p1", "req-1", t0.Add(3*time.Second)),
		note("m1", "compute.instance.create.start", "info", "p1", "req-1", t0.Add(time.Second)),
		note("m2", "volume.attach.error", "error", "p2", "req-1", t0.Add(2*time.Second)),
		note("m4", "compute.instance.delete.start", "info", "p2", "req-2", t0.Add(4*time.Second)),
	}
	if err := db.Put(ctx, batch); err != nil {
		t.Fatal(err)
	}
	// A redelivery is stored once, and keeps the first copy.
	dup := batch[0]
	dup.EventType = "changed"
	if err := db.Put(ctx, []sample.Notification{dup}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all in time order", Filter{}, []string{"m1", "m2", "m3", "m4"}},
		{"request", Filter{RequestID: "req-1"}, []string{"m1", "m2", "m3"}},
		{"glob", Filter{EventType: "compute.instance.*"}, []string{"m1", "m3", "m4"}},
		{"glob middle", Filter{EventType: "compute.*.start"}, []string{"m1", "m4"}},
		{"exact type", Filter{EventType: "volume.attach.error"}, []string{"m2"}},
		{"priority", Filter{Priority: "error"}, []string{"m2"}},
		{"host", Filter{Host: "host-p2"}, []string{"m2", "m4"}},
		{"publisher", Filter{PublisherID: "compute.host-p1"}, []string{"m1", "m3"}},
		{"user", Filter{User: "u-p2"}, []string{"m2", "m4"}},
		{"resource", Filter{Resource: "i-1", Limit: 2}, []string{"m1", "m2"}},
		{"time range", Filter{Start: t0.Add(2 * time.Second), End: t0.Add(4 * time.Second)}, []string{"m2", "m3"}},
		{"marker", Filter{Marker: "m2"}, []string{"m3", "m4"}},
		{"scope", Filter{Scope: "p2"}, []string{"m2", "m4"}},
		{"scope and request", Filter{Scope: "p2", RequestID: "req-1"}, []string{"m2"}},
		{"scope against project", Filter{Scope: "p2", Project: "p1"}, []string{}},
		{"project", Filter{Project: "p1"}, []string{"m1", "m3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.List(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ids(got)) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", ids(got), tc.want)
			}
		})
	}
	e, err := db.Get(ctx, "m3", "")
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Raw) != string(batch[0].Raw) || e.EventType != "compute.instance.create.end" || e.Host != "host-p1" {
		t.Fatalf("got %+v", e)
	}
	if _, err := db.Get(ctx, "m3", "p2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other project's notification: %v, want ErrNotFound", err)
	}
	for _, f := range []Filter{{EventType: "compute[0-9]"}, {EventType: "a?b"}, {EventType: "*a*a*a*a*"}, {Marker: "nope"}} {
		if _, err := db.List(ctx, f); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", f, err)
		}
	}
	if err := db.Put(ctx, []sample.Notification{{EventType: "x"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no message_id: %v", err)
	}
}

func TestExpire(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	var ns []sample.Notification
	for i := range 12000 {
		n := note(fmt.Sprintf("m%d", i), "x.y", "info", "p", "", t0)
		if i%2 == 0 {
			n.Expires = t0.Add(time.Hour)
		} else {
			n.Expires = t0.Add(2 * time.Hour)
		}
		ns = append(ns, n)
	}
	ns = append(ns, note("keep", "x.y", "info", "p", "", t0)) // no expiry
	if err := db.Put(ctx, ns); err != nil {
		t.Fatal(err)
	}
	n, err := db.Expire(ctx, t0.Add(90*time.Minute), 0)
	if err != nil || n != 6000 {
		t.Fatalf("expired %d, %v; want 6000", n, err)
	}
	if n, err = db.Expire(ctx, t0.Add(3*time.Hour), 100); err != nil || n != 100 {
		t.Fatalf("bounded expire: %d, %v", n, err)
	}
	if n, err = db.Expire(ctx, t0.Add(3*time.Hour), 0); err != nil || n != 5900 {
		t.Fatalf("expired %d, %v; want 5900", n, err)
	}
	st, err := db.Stats(ctx)
	if err != nil || st.Count != 1 {
		t.Fatalf("stats %+v, %v", st, err)
	}
}

// TestBytesPerNotification measures what typical notifications (the
// real-format fixtures of internal/notification) cost on disk, compressed.
func TestBytesPerNotification(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	files, err := filepath.Glob("../../internal/notification/testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	var ns []sample.Notification
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ns = append(ns, sample.Notification{MessageID: fmt.Sprint(i), EventType: filepath.Base(f), Raw: raw, Timestamp: t0})
	}
	if err := db.Put(ctx, ns); err != nil {
		t.Fatal(err)
	}
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.StoredBytes >= st.RawBytes {
		t.Fatalf("compression does not pay: %+v", st)
	}
	t.Logf("%d notifications: %d raw bytes each, %d stored (zstd) each on average",
		st.Count, st.RawBytes/st.Count, st.StoredBytes/st.Count)
}
