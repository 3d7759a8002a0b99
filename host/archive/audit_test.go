package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

func exists(t *testing.T, id, vm, project string, begin, end time.Time, launched string) sample.Notification {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"event_type": existsType, "payload": map[string]any{
		"instance_id": vm, "tenant_id": project, "launched_at": launched, "deleted_at": "",
		"audit_period_beginning": begin.Format("2006-01-02T15:04:05.000000"),
		"audit_period_ending":    end.Format("2006-01-02 15:04:05"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return sample.Notification{MessageID: id, EventType: existsType, Priority: "info", Timestamp: end.Add(time.Minute),
		ProjectID: project, ResourceID: vm, Raw: raw}
}

func TestAuditUsage(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	long := h(-100).Format("2006-01-02 15:04:05")
	var ns []sample.Notification
	// vm-ok: every hour of the window, once (one period redelivered under
	// another message id is not an overlap).
	for i := range 4 {
		ns = append(ns, exists(t, fmt.Sprintf("ok-%d", i), "vm-ok", "p1", h(i), h(i+1), long))
	}
	ns = append(ns, exists(t, "ok-dup", "vm-ok", "p1", h(1), h(2), long))
	// vm-gap: hour 2 missing.
	for _, i := range []int{0, 1, 3} {
		ns = append(ns, exists(t, fmt.Sprintf("gap-%d", i), "vm-gap", "p1", h(i), h(i+1), long))
	}
	// vm-over (project p2): a daily period over the hourly ones.
	for i := range 4 {
		ns = append(ns, exists(t, fmt.Sprintf("over-%d", i), "vm-over", "p2", h(i), h(i+1), long))
	}
	ns = append(ns, exists(t, "over-day", "vm-over", "p2", h(0), h(2), long))
	// vm-new: created at 1:30, deleted at 3:15, exists for 1:30-2:00 and
	// 2:00-3:00 only: 3:00-3:15 missing.
	create := note("new-c", createType, "info", "p1", "", h(1).Add(30*time.Minute))
	create.ResourceID = "vm-new"
	del := note("new-d", deleteType, "info", "p1", "", h(3).Add(15*time.Minute))
	del.ResourceID = "vm-new"
	ns = append(ns, create, del,
		exists(t, "new-1", "vm-new", "p1", h(1).Add(30*time.Minute), h(2), ""),
		exists(t, "new-2", "vm-new", "p1", h(2), h(3), ""))
	if err := db.Put(ctx, ns); err != nil {
		t.Fatal(err)
	}
	got, err := db.AuditUsage(ctx, h(0), h(4), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []UsageProblem{
		{ResourceID: "vm-gap", ProjectID: "p1", Launched: h(-100), Exists: 3, Missing: []Interval{{h(2), h(3)}}},
		{ResourceID: "vm-new", ProjectID: "p1", Launched: h(1).Add(30 * time.Minute), Deleted: h(3).Add(15 * time.Minute), Exists: 2,
			Missing: []Interval{{h(3), h(3).Add(15 * time.Minute)}}},
		{ResourceID: "vm-over", ProjectID: "p2", Launched: h(-100), Exists: 5, Overlapping: []Interval{{h(0), h(2)}}},
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	p2, err := db.AuditUsage(ctx, h(0), h(4), "p2")
	if err != nil || len(p2) != 1 || p2[0].ResourceID != "vm-over" {
		t.Fatalf("scoped: %+v %v", p2, err)
	}
	if _, err := db.AuditUsage(ctx, h(4), h(0), ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("reversed window: %v", err)
	}
}
