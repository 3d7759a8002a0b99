package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/altimeter/altimeter/internal/notification"
	"github.com/altimeter/altimeter/sdk/sample"
)

// DurationMeter is the meter of operation durations: one sample per
// .end or .error notification whose .start is archived.
const DurationMeter = "notification.duration"

// Durations returns a notification.duration sample (seconds, gauge) for
// each .end or .error notification of ns whose .start (same operation,
// request and resource, not later) is archived; call it after Put. The
// resource is the notification's resource, else its request; the sample's
// message_id derives from the end's, so a redelivery stores it once. A
// start archived only after its end gives no sample.
func (db *DB) Durations(ctx context.Context, ns []sample.Notification) ([]sample.Sample, error) {
	var out []sample.Sample
	for i := range ns {
		n := &ns[i]
		op, outcome := "", ""
		switch {
		case strings.HasSuffix(n.EventType, ".end"):
			op, outcome = strings.TrimSuffix(n.EventType, ".end"), "end"
		case strings.HasSuffix(n.EventType, ".error"):
			op, outcome = strings.TrimSuffix(n.EventType, ".error"), "error"
		default:
			continue
		}
		if op == "" || (n.RequestID == "" && n.ResourceID == "") {
			continue
		}
		var ts int64
		err := db.r.QueryRowContext(ctx, `SELECT ts FROM notifications
			WHERE request_id = ? AND resource_id = ? AND event_type = ? AND ts <= ? ORDER BY ts DESC LIMIT 1`,
			n.RequestID, n.ResourceID, op+".start", n.Timestamp.UnixNano()).Scan(&ts)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("duration of %s: %w", n.MessageID, err)
		}
		resource := n.ResourceID
		if resource == "" {
			resource = n.RequestID
		}
		host := n.Host
		if host == "" {
			host = HostOf(n.PublisherID)
		}
		out = append(out, sample.Sample{
			Name: DurationMeter, Type: sample.Gauge, Unit: "s",
			Volume:     n.Timestamp.Sub(time.Unix(0, ts)).Seconds(),
			ResourceID: resource, ProjectID: n.ProjectID, UserID: n.UserID,
			Timestamp: n.Timestamp, Source: "openstack",
			MessageID: notification.DerivedID(n.MessageID, DurationMeter),
			Metadata:  map[string]string{"event_type": op, "outcome": outcome, "host": host, "request_id": n.RequestID},
		})
	}
	return out, nil
}
