package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

// archiveBlock turns on the archive: every consumed notification that
// decodes goes to the host raw, with its envelope fields, in the batch of
// its delivery, so the host stores it before the delivery is acked.
type archiveBlock struct {
	Retention string `hcl:"retention,optional" desc:"how long archived notifications are kept (a duration; 'd' is a day), default \"14d\""`
}

// defaultRetention is the archive's retention when the block names none.
const defaultRetention = 14 * 24 * time.Hour

// Reasons an archived notification carries when the mapping made nothing
// of it, or when a meter definition failed on it (followed by the error;
// a failing event definition carries reasonMapping and the error).
const (
	reasonUnmatched  = "unmatched"
	reasonMeterError = "meter_error"
)

// parseRetention reads a duration that may start with days ("14d",
// "1d12h").
func parseRetention(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return days + d, nil
}

// Where the envelope fields are looked up: the request id in the request
// context (ctxt, or the _context_ fields of the flat form), the resource in
// the payload, project and user in both.
var (
	requestKeys  = []string{"request_id", "global_request_id"}
	projectKeys  = []string{"project_id", "tenant_id", "tenant", "project"}
	userKeys     = []string{"user_id", "user"}
	resourceKeys = []string{"instance_id", "instance_uuid", "resource_id", "volume_id", "snapshot_id", "backup_id",
		"image_id", "share_id", "uuid", "id"}
)

// archiveNote is the archive record of n, whose JSON text is raw.
func (o *oslo) archiveNote(n *notice) *sample.Notification {
	ctxt, _ := n.Raw["ctxt"].(map[string]any)
	if ctxt == nil {
		ctxt, _ = n.Raw["context"].(map[string]any)
	}
	fromContext := func(keys []string) string {
		for _, k := range keys {
			if v, ok := ctxt[k].(string); ok && v != "" {
				return v
			}
			if v, ok := n.Raw["_context_"+k].(string); ok && v != "" {
				return v
			}
		}
		return ""
	}
	payload, _ := n.Payload.(map[string]any)
	// Versioned notifications (nova, cinder) wrap the payload's fields.
	if d, ok := payload["nova_object.data"].(map[string]any); ok {
		payload = d
	} else if d, ok := payload["versioned_object.data"].(map[string]any); ok {
		payload = d
	}
	fromPayload := func(keys []string) string {
		for _, k := range keys {
			if v, ok := payload[k].(string); ok && v != "" {
				return v
			}
		}
		return ""
	}
	// The project and user that own the resource (the payload's, as the
	// meter definitions read them) come before the caller's context: a
	// member sees what happens to its resources, whoever asked for it.
	project := fromPayload(projectKeys)
	if project == "" {
		project = fromContext(projectKeys)
	}
	user := fromPayload(userKeys)
	if user == "" {
		user = fromContext(userKeys)
	}
	host := ""
	if _, h, ok := strings.Cut(n.PublisherID, "."); ok {
		host = h
	}
	return &sample.Notification{
		MessageID:   n.MessageID,
		EventType:   n.EventType,
		Priority:    n.Priority,
		PublisherID: n.PublisherID,
		Host:        host,
		Timestamp:   n.Timestamp,
		RequestID:   fromContext(requestKeys),
		ProjectID:   project,
		UserID:      user,
		ResourceID:  fromPayload(resourceKeys),
		Raw:         []byte(n.RawJSON),
		Expires:     o.now().Add(o.s.retention),
	}
}
