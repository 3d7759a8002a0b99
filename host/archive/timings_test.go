package archive

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

func TestTimings(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	var ns []sample.Notification
	op := func(i int, host, project string, took time.Duration, end string) {
		req := fmt.Sprintf("req-%d", i)
		start := t0.Add(time.Duration(i) * time.Minute)
		s := note(req+"-s", "compute.instance.create.start", "info", project, req, start)
		ns = append(ns, s)
		if end != "" {
			e := note(req+"-e", "compute.instance.create."+end, "info", project, req, start.Add(took))
			e.PublisherID = "compute." + host
			ns = append(ns, e)
		}
	}
	// host a: 1s, 2s, 3s, 4s; host b: 10s and an error after 20s; one
	// unfinished; another operation and another project's noise.
	for i, d := range []int{3, 1, 4, 2} {
		op(i, "a", "p1", time.Duration(d)*time.Second, "end")
	}
	op(4, "b", "p1", 10*time.Second, "end")
	op(5, "b", "p2", 20*time.Second, "error")
	op(6, "b", "p1", 0, "")
	ns = append(ns, note("other", "compute.instance.delete.end", "info", "p1", "req-1", t0))
	if err := db.Put(ctx, ns); err != nil {
		t.Fatal(err)
	}
	got, err := db.Timings(ctx, TimingQuery{EventType: "compute.instance.create", GroupBy: "host"})
	if err != nil {
		t.Fatal(err)
	}
	s := time.Second
	want := []Timing{
		{Group: "a", Count: 4, Min: s, Max: 4 * s, Avg: 2500 * time.Millisecond, P50: 2 * s, P90: 4 * s, P95: 4 * s, P99: 4 * s},
		{Group: "b", Count: 2, Errors: 1, Min: 10 * s, Max: 20 * s, Avg: 15 * s, P50: 10 * s, P90: 20 * s, P95: 20 * s, P99: 20 * s},
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	all, err := db.Timings(ctx, TimingQuery{EventType: "compute.instance.create"})
	if err != nil || len(all) != 1 || all[0].Count != 6 || all[0].Unfinished != 1 {
		t.Fatalf("ungrouped: %+v %v", all, err)
	}
	// Scope and time range.
	p2, err := db.Timings(ctx, TimingQuery{Scope: "p2", EventType: "compute.instance.create"})
	if err != nil || len(p2) != 1 || p2[0].Count != 1 || p2[0].Errors != 1 {
		t.Fatalf("scoped: %+v %v", p2, err)
	}
	r, err := db.Timings(ctx, TimingQuery{EventType: "compute.instance.create", Start: t0.Add(time.Minute), End: t0.Add(3 * time.Minute)})
	if err != nil || len(r) != 1 || r[0].Count != 2 || r[0].Min != s || r[0].Max != 4*s {
		t.Fatalf("range: %+v %v", r, err)
	}
	for _, q := range []TimingQuery{{EventType: "compute.*"}, {EventType: ""}, {EventType: "x", GroupBy: "user"}} {
		if _, err := db.Timings(ctx, q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", q, err)
		}
	}
}

func TestDurations(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	start := note("s", "compute.instance.create.start", "info", "p1", "req-1", t0)
	end := note("e", "compute.instance.create.end", "info", "p1", "req-1", t0.Add(1500*time.Millisecond))
	orphan := note("o", "volume.attach.error", "error", "p1", "req-1", t0.Add(time.Second))
	noise := note("x", "compute.instance.exists", "info", "p1", "req-1", t0)
	if err := db.Put(ctx, []sample.Notification{start, end, orphan, noise}); err != nil {
		t.Fatal(err)
	}
	ds, err := db.Durations(ctx, []sample.Notification{start, end, orphan, noise})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("got %d samples, want 1: %+v", len(ds), ds)
	}
	d := ds[0]
	if d.Name != DurationMeter || d.Volume != 1.5 || d.ResourceID != "i-1" || d.ProjectID != "p1" || d.Unit != "s" ||
		!d.Timestamp.Equal(end.Timestamp) || d.Metadata["event_type"] != "compute.instance.create" || d.Metadata["host"] != "host-p1" {
		t.Fatalf("got %+v", d)
	}
	again, err := db.Durations(ctx, []sample.Notification{end})
	if err != nil || len(again) != 1 || again[0].MessageID != d.MessageID {
		t.Fatalf("a redelivery gives another id: %+v %v", again, err)
	}
}
