package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/altimeter/altimeter/host/archive"
	"github.com/altimeter/altimeter/sdk/sample"
)

// The notification archive endpoints (StackTach's): GET /v2/notifications
// (filters on every indexed envelope field, a time range, an event_type
// glob, limit and marker), GET /v2/notifications/{message_id} with the raw
// body, and GET /v2/requests/{request_id}, every notification of one
// request in time order, and GET /v2/timings, the durations of an
// operation from its .start and .end (or .error) notifications, and GET
// /v2/audit/usage, instances whose compute.instance.exists periods miss or
// overlap part of their life (StackTach's usage audit). A member token is confined to the notifications
// of its project (the project of the notification's context or payload):
// another project's notification is 404, and a filter naming another
// project is 403. Raw bodies therefore reach only admins and the owning
// project.

// NotificationArchive is what the archive endpoints read.
type NotificationArchive interface {
	List(ctx context.Context, f archive.Filter) ([]archive.Entry, error)
	Get(ctx context.Context, messageID, scope string) (archive.Entry, error)
	Timings(ctx context.Context, q archive.TimingQuery) ([]archive.Timing, error)
	AuditUsage(ctx context.Context, start, end time.Time, scope string) ([]archive.UsageProblem, error)
}

// Limits of the archive endpoints.
const (
	defaultNotificationLimit = 100
	maxNotificationLimit     = 1000
	maxRequestNotifications  = archive.MaxLimit
	maxNotificationParam     = 255
	// maxRawNotifications bounds a listing with raw=true: each body may be
	// as large as the listener's max_message_bytes (1 MiB by default).
	maxRawNotifications = 100
)

// registerNotifications adds the archive endpoints to v2.
func (s *Server) registerNotifications(v2 *gin.RouterGroup) {
	g := v2.Group("", s.authenticate())
	g.GET("/notifications", s.listNotifications)
	g.GET("/notifications/:message_id", s.getNotification)
	g.GET("/requests/:request_id", s.getRequest)
	g.GET("/timings", s.timings)
	g.GET("/audit/usage", s.auditUsage)
}

// notificationJSON is one archived notification.
type notificationJSON struct {
	MessageID   string          `json:"message_id"`
	EventType   string          `json:"event_type"`
	Priority    string          `json:"priority"`
	PublisherID string          `json:"publisher_id"`
	Host        string          `json:"host"`
	Timestamp   string          `json:"timestamp"`
	RequestID   string          `json:"request_id"`
	ProjectID   string          `json:"project_id"`
	UserID      string          `json:"user_id"`
	ResourceID  string          `json:"resource_id"`
	Reason      string          `json:"reason,omitempty"`
	RawBytes    int             `json:"raw_bytes"`
	StoredBytes int             `json:"stored_bytes"`
	Raw         json.RawMessage `json:"raw,omitempty"`
}

func renderNotification(e *archive.Entry, withRaw bool) notificationJSON {
	out := notificationJSON{
		MessageID: e.MessageID, EventType: e.EventType, Priority: e.Priority, PublisherID: e.PublisherID,
		Host: e.Host, Timestamp: e.Timestamp.UTC().Format(time.RFC3339Nano), RequestID: e.RequestID,
		ProjectID: e.ProjectID, UserID: e.UserID, ResourceID: e.ResourceID, Reason: e.Reason,
		RawBytes: e.RawBytes, StoredBytes: e.StoredBytes,
	}
	if withRaw {
		out.Raw = rawJSON(e.Raw)
	}
	return out
}

// archiveErr maps the archive's errors onto the API's.
func archiveErr(err error) error {
	switch {
	case errors.Is(err, archive.ErrInvalid):
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	case errors.Is(err, archive.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// notificationFilter reads the query parameters of GET /v2/notifications
// into a filter confined to the caller's scope.
func notificationFilter(c *gin.Context, maxLimit int) (archive.Filter, error) {
	f := archive.Filter{Scope: scope(c), Limit: defaultNotificationLimit}
	fields := map[string]*string{
		"message_id": &f.MessageID, "event_type": &f.EventType, "priority": &f.Priority,
		"publisher_id": &f.PublisherID, "host": &f.Host, "request_id": &f.RequestID,
		"project_id": &f.Project, "user_id": &f.User, "resource_id": &f.Resource, "marker": &f.Marker,
	}
	for k, vs := range c.Request.URL.Query() {
		if len(vs) != 1 {
			return f, fmt.Errorf("%w: parameter %s is given %d times", ErrBadRequest, k, len(vs))
		}
		v := vs[0]
		if len(v) > maxNotificationParam {
			return f, fmt.Errorf("%w: %s: longer than %d bytes", ErrBadRequest, k, maxNotificationParam)
		}
		if dst, ok := fields[k]; ok {
			if v == "" {
				return f, fmt.Errorf("%w: %s: empty value", ErrBadRequest, k)
			}
			*dst = v
			continue
		}
		switch k {
		case "start", "end":
			t, err := sample.ParseISOTime(v)
			if err != nil {
				return f, fmt.Errorf("%w: %s: %v", ErrBadRequest, k, err)
			}
			if t.Before(minEventTime) {
				t = minEventTime
			} else if t.After(maxEventTime) {
				t = maxEventTime
			}
			if k == "start" {
				f.Start = t
			} else {
				f.End = t
			}
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > maxLimit {
				return f, fmt.Errorf("%w: limit: want an integer between 1 and %d, got %q", ErrBadRequest, maxLimit, v)
			}
			f.Limit = n
		case "raw":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, fmt.Errorf("%w: raw: want true or false, got %q", ErrBadRequest, v)
			}
			f.Raw = b
		default:
			return f, fmt.Errorf("%w: unknown parameter %s", ErrBadRequest, k)
		}
	}
	if f.Raw && f.Limit > maxRawNotifications {
		return f, fmt.Errorf("%w: limit: at most %d with raw=true, got %d", ErrBadRequest, maxRawNotifications, f.Limit)
	}
	if f.EventType != "" && !archive.ValidGlob(f.EventType) {
		return f, fmt.Errorf("%w: event_type: %q is not a glob of letters, digits, '.', '_', ':', '-' and at most 4 '*'", ErrBadRequest, f.EventType)
	}
	if f.Scope != "" && f.Project != "" && f.Project != f.Scope {
		return f, fmt.Errorf("%w: project_id %s is not the token's project", ErrForbidden, f.Project)
	}
	if !f.Start.IsZero() && !f.End.IsZero() && !f.Start.Before(f.End) {
		return f, fmt.Errorf("%w: start must be before end", ErrBadRequest)
	}
	return f, nil
}

func (s *Server) listNotifications(c *gin.Context) {
	f, err := notificationFilter(c, maxNotificationLimit)
	if err != nil {
		abort(c, err)
		return
	}
	es, err := s.opts.Notifications.List(c.Request.Context(), f)
	if err != nil {
		abort(c, archiveErr(err))
		return
	}
	out := make([]notificationJSON, len(es))
	for i := range es {
		out[i] = renderNotification(&es[i], f.Raw)
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getNotification(c *gin.Context) {
	if err := checkParams(c); err != nil {
		abort(c, err)
		return
	}
	id := c.Param("message_id")
	if len(id) > maxNotificationParam {
		abort(c, fmt.Errorf("%w: message_id: longer than %d bytes", ErrBadRequest, maxNotificationParam))
		return
	}
	e, err := s.opts.Notifications.Get(c.Request.Context(), id, scope(c))
	if err != nil {
		abort(c, archiveErr(err))
		return
	}
	c.JSON(http.StatusOK, renderNotification(&e, true))
}

// requestJSON is one request's notifications in time order.
type requestJSON struct {
	RequestID     string             `json:"request_id"`
	Notifications []notificationJSON `json:"notifications"`
}

func (s *Server) getRequest(c *gin.Context) {
	id := c.Param("request_id")
	if len(id) > maxNotificationParam {
		abort(c, fmt.Errorf("%w: request_id: longer than %d bytes", ErrBadRequest, maxNotificationParam))
		return
	}
	f, err := notificationFilter(c, maxRequestNotifications)
	if err != nil {
		abort(c, err)
		return
	}
	if c.Query("limit") == "" {
		f.Limit = maxRequestNotifications
		if f.Raw {
			f.Limit = maxRawNotifications
		}
	}
	f.RequestID = id
	es, err := s.opts.Notifications.List(c.Request.Context(), f)
	if err != nil {
		abort(c, archiveErr(err))
		return
	}
	if len(es) == 0 {
		abort(c, fmt.Errorf("request %s: %w", id, ErrNotFound))
		return
	}
	out := requestJSON{RequestID: id, Notifications: make([]notificationJSON, len(es))}
	for i := range es {
		out.Notifications[i] = renderNotification(&es[i], f.Raw)
	}
	c.JSON(http.StatusOK, out)
}

// timingJSON is the durations of one group, in seconds.
type timingJSON struct {
	Group      string  `json:"group"`
	Count      int     `json:"count"`
	Errors     int     `json:"errors"`
	Unfinished int     `json:"unfinished"`
	Min        float64 `json:"min"`
	Max        float64 `json:"max"`
	Avg        float64 `json:"avg"`
	P50        float64 `json:"p50"`
	P90        float64 `json:"p90"`
	P95        float64 `json:"p95"`
	P99        float64 `json:"p99"`
}

// timings serves GET /v2/timings?event_type=<operation>&group_by=host.
func (s *Server) timings(c *gin.Context) {
	q := archive.TimingQuery{Scope: scope(c)}
	for k, vs := range c.Request.URL.Query() {
		if len(vs) != 1 {
			abort(c, fmt.Errorf("%w: parameter %s is given %d times", ErrBadRequest, k, len(vs)))
			return
		}
		v := vs[0]
		switch k {
		case "event_type":
			if !archive.ValidOperation(v) {
				abort(c, fmt.Errorf("%w: event_type: %q is not an operation such as compute.instance.create (letters, digits, '.', '_', ':', '-')", ErrBadRequest, v))
				return
			}
			q.EventType = v
		case "group_by":
			if v != "host" && v != "project_id" {
				abort(c, fmt.Errorf("%w: group_by: want host or project_id, got %q", ErrBadRequest, v))
				return
			}
			q.GroupBy = v
		case "start", "end":
			t, err := sample.ParseISOTime(v)
			if err != nil {
				abort(c, fmt.Errorf("%w: %s: %v", ErrBadRequest, k, err))
				return
			}
			if k == "start" {
				q.Start = t
			} else {
				q.End = t
			}
		default:
			abort(c, fmt.Errorf("%w: unknown parameter %s", ErrBadRequest, k))
			return
		}
	}
	if q.EventType == "" {
		abort(c, fmt.Errorf("%w: event_type: required (an operation such as compute.instance.create)", ErrBadRequest))
		return
	}
	ts, err := s.opts.Notifications.Timings(c.Request.Context(), q)
	if err != nil {
		abort(c, archiveErr(err))
		return
	}
	out := make([]timingJSON, len(ts))
	for i, t := range ts {
		out[i] = timingJSON{Group: t.Group, Count: t.Count, Errors: t.Errors, Unfinished: t.Unfinished,
			Min: t.Min.Seconds(), Max: t.Max.Seconds(), Avg: t.Avg.Seconds(),
			P50: t.P50.Seconds(), P90: t.P90.Seconds(), P95: t.P95.Seconds(), P99: t.P99.Seconds()}
	}
	c.JSON(http.StatusOK, out)
}

// maxAuditWindow bounds the window of one usage audit.
const maxAuditWindow = 31 * 24 * time.Hour

// intervalJSON is a half-open time range.
type intervalJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// usageJSON is one instance the usage audit reports.
type usageJSON struct {
	ResourceID  string         `json:"resource_id"`
	ProjectID   string         `json:"project_id"`
	LaunchedAt  *string        `json:"launched_at"`
	DeletedAt   *string        `json:"deleted_at"`
	Exists      int            `json:"exists"`
	Missing     []intervalJSON `json:"missing"`
	Overlapping []intervalJSON `json:"overlapping"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := rfc3339(t)
	return &s
}

func intervals(in []archive.Interval) []intervalJSON {
	out := make([]intervalJSON, len(in))
	for i, iv := range in {
		out[i] = intervalJSON{Start: rfc3339(iv.Start), End: rfc3339(iv.End)}
	}
	return out
}

// auditUsage serves GET /v2/audit/usage?start=&end=.
func (s *Server) auditUsage(c *gin.Context) {
	if err := checkParams(c, "start", "end"); err != nil {
		abort(c, err)
		return
	}
	var bounds [2]time.Time
	for i, k := range []string{"start", "end"} {
		v := c.Query(k)
		if v == "" {
			abort(c, fmt.Errorf("%w: %s: required (ISO 8601)", ErrBadRequest, k))
			return
		}
		t, err := sample.ParseISOTime(v)
		if err != nil {
			abort(c, fmt.Errorf("%w: %s: %v", ErrBadRequest, k, err))
			return
		}
		bounds[i] = t
	}
	if !bounds[0].Before(bounds[1]) {
		abort(c, fmt.Errorf("%w: start must be before end", ErrBadRequest))
		return
	}
	if bounds[1].Sub(bounds[0]) > maxAuditWindow {
		abort(c, fmt.Errorf("%w: end: the window is longer than %d days", ErrBadRequest, maxAuditWindow/(24*time.Hour)))
		return
	}
	ps, err := s.opts.Notifications.AuditUsage(c.Request.Context(), bounds[0], bounds[1], scope(c))
	if err != nil {
		abort(c, archiveErr(err))
		return
	}
	out := make([]usageJSON, len(ps))
	for i, p := range ps {
		out[i] = usageJSON{ResourceID: p.ResourceID, ProjectID: p.ProjectID, LaunchedAt: optTime(p.Launched),
			DeletedAt: optTime(p.Deleted), Exists: p.Exists, Missing: intervals(p.Missing), Overlapping: intervals(p.Overlapping)}
	}
	c.JSON(http.StatusOK, out)
}
