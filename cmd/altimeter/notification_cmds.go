package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// Table layouts of the archive commands, after stacky's.
var (
	notificationColumns = []column{
		{"TIMESTAMP", "timestamp", kindTime}, {"PRIORITY", "priority", kindText}, {"EVENT_TYPE", "event_type", kindText},
		{"HOST", "host", kindText}, {"REQUEST_ID", "request_id", kindText}, {"RESOURCE_ID", "resource_id", kindText},
		{"MESSAGE_ID", "message_id", kindText},
	}
	notificationFields = []column{
		{"message_id", "message_id", kindText}, {"event_type", "event_type", kindText}, {"priority", "priority", kindText},
		{"timestamp", "timestamp", kindText}, {"publisher_id", "publisher_id", kindText}, {"host", "host", kindText},
		{"request_id", "request_id", kindText}, {"project_id", "project_id", kindText}, {"user_id", "user_id", kindText},
		{"resource_id", "resource_id", kindText}, {"reason", "reason", kindText}, {"raw_bytes", "raw_bytes", kindText},
		{"stored_bytes", "stored_bytes", kindText},
	}
	timingColumns = []column{
		{"GROUP", "group", kindText}, {"COUNT", "count", kindText}, {"ERRORS", "errors", kindText},
		{"UNFINISHED", "unfinished", kindText}, {"MIN", "min", kindText}, {"AVG", "avg", kindText},
		{"P50", "p50", kindText}, {"P90", "p90", kindText}, {"P99", "p99", kindText}, {"MAX", "max", kindText},
	}
)

// notificationFilters are the filter flags of notification list and watch.
type notificationFilters struct {
	eventType, priority, host, publisher, request, project, user, resource string
}

func (nf *notificationFilters) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVarP(&nf.eventType, "event-type", "e", "", "event_type, or a glob such as compute.instance.*")
	fl.StringVarP(&nf.priority, "priority", "p", "", "priority: audit, debug, info, warn, error, critical or sample")
	fl.StringVar(&nf.host, "host", "", "host (publisher_id after its first '.')")
	fl.StringVar(&nf.publisher, "publisher-id", "", "publisher_id")
	fl.StringVar(&nf.request, "request-id", "", "request_id")
	fl.StringVar(&nf.project, "project-id", "", "project_id")
	fl.StringVar(&nf.user, "user-id", "", "user_id")
	fl.StringVar(&nf.resource, "resource-id", "", "instance or other resource uuid")
}

func (nf *notificationFilters) values() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"event_type": nf.eventType, "priority": nf.priority, "host": nf.host,
		"publisher_id": nf.publisher, "request_id": nf.request, "project_id": nf.project, "user_id": nf.user,
		"resource_id": nf.resource} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

func notificationCmd(stdout io.Writer) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{Use: "notification", Short: "Archived notifications (GET /v2/notifications)"}
	f.register(c, true)

	var (
		nf            notificationFilters
		start, end    string
		marker        string
		limit         int
		interval      time.Duration
		count         int
		sinceDuration time.Duration
	)
	list := &cobra.Command{
		Use:     "list",
		Short:   "List archived notifications, oldest first",
		Example: `  altimeter notification list -e 'compute.instance.*' -p error --start 2026-12-07T00:00:00Z -l 50`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := nf.values()
			if start != "" {
				q.Set("start", start)
			}
			if end != "" {
				q.Set("end", end)
			}
			if marker != "" {
				q.Set("marker", marker)
			}
			if limit < 0 {
				return fmt.Errorf("bad --limit %d: want a number above 0", limit)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			return fetchList(cmd, &f, stdout, "/v2/notifications", q, notificationColumns, nil)
		},
	}
	nf.register(list)
	list.Flags().StringVar(&start, "start", "", "notifications at or after this time (ISO 8601)")
	list.Flags().StringVar(&end, "end", "", "notifications before this time (ISO 8601)")
	list.Flags().StringVar(&marker, "marker", "", "start after this message_id (the last of the previous page)")
	list.Flags().IntVarP(&limit, "limit", "l", 0, "at most this many (default 100, at most 1000)")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one archived notification with its raw body (GET /v2/notifications/ID)",
		Args:  exactArg("notification message ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetchOne(cmd, &f, stdout, "/v2/notifications/"+url.PathEscape(args[0]), nil, func(obj map[string]any) error {
				if err := renderProps(stdout, objectProps(obj, notificationFields, "")); err != nil {
					return err
				}
				raw, err := json.MarshalIndent(obj["raw"], "", "  ")
				if err != nil {
					return fmt.Errorf("raw body: %w", err)
				}
				_, err = fmt.Fprintf(stdout, "\n%s\n", raw)
				return err
			})
		},
	}

	watch := &cobra.Command{
		Use:   "watch",
		Short: "Follow new notifications as they are archived (as stacky watch)",
		Long: "Polls GET /v2/notifications every --interval and prints the notifications archived since the last\n" +
			"poll, filtered like list. Notifications whose timestamp is older than the newest one already\n" +
			"printed are not shown (the archive pages by timestamp).",
		Example: `  altimeter notification watch -e 'compute.instance.*' --host cmp-1 -p error`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := f.json()
			if err != nil {
				return err
			}
			if interval < 100*time.Millisecond {
				return fmt.Errorf("bad --interval %s: want at least 100ms", interval)
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			q := nf.values()
			q.Set("start", time.Now().Add(-sinceDuration).UTC().Format(time.RFC3339Nano))
			q.Set("limit", "1000")
			shown, header := 0, !asJSON
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				b, err := cl.get(cmd.Context(), "/v2/notifications", q)
				if err != nil {
					return err
				}
				var rows []map[string]any
				if err := decode(b, &rows); err != nil {
					return err
				}
				for _, r := range rows {
					if count > 0 && shown == count {
						break
					}
					shown++
					if asJSON {
						line, _ := json.Marshal(r)
						if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
							return err
						}
						continue
					}
					if err := renderWatchRow(stdout, r, header); err != nil {
						return err
					}
					header = false
				}
				if n := len(rows); n > 0 {
					q.Set("marker", fmt.Sprint(rows[n-1]["message_id"]))
				}
				if count > 0 && shown >= count {
					return nil
				}
				if len(rows) == 1000 {
					continue // more are waiting
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-tick.C:
				}
			}
		},
	}
	nf.register(watch)
	watch.Flags().DurationVar(&interval, "interval", 2*time.Second, "how often to poll")
	watch.Flags().DurationVar(&sinceDuration, "since", 0, "also show notifications of this long before now")
	watch.Flags().IntVarP(&count, "count", "n", 0, "exit after this many notifications (0: follow until interrupted)")

	c.AddCommand(list, show, watch)
	return c
}

// renderWatchRow prints one notification as a table row of fixed widths
// (rows come one poll at a time, so they cannot be aligned together).
func renderWatchRow(w io.Writer, r map[string]any, header bool) error {
	const format = "%-20s  %-8s  %-40s  %-20s  %-40s  %s\n"
	if header {
		if _, err := fmt.Fprintf(w, format, "TIMESTAMP", "PRIORITY", "EVENT_TYPE", "HOST", "REQUEST_ID", "MESSAGE_ID"); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, format, formatCell(r["timestamp"], kindTime), formatCell(r["priority"], kindText),
		formatCell(r["event_type"], kindText), formatCell(r["host"], kindText), formatCell(r["request_id"], kindText),
		formatCell(r["message_id"], kindText))
	return err
}

func requestCmd(stdout io.Writer) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{Use: "request", Short: "Requests across services (GET /v2/requests)"}
	f.register(c, true)
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Every notification of one request, in time order (GET /v2/requests/ID)",
		Args:  exactArg("request ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			type request struct {
				Notifications []map[string]any `json:"notifications"`
			}
			return fetchOne(cmd, &f, stdout, "/v2/requests/"+url.PathEscape(args[0]), nil, func(req request) error {
				return renderTable(stdout, notificationColumns, req.Notifications)
			})
		},
	}
	c.AddCommand(show)
	return c
}

func timingsCmd(stdout io.Writer) *cobra.Command {
	var (
		f                  apiFlags
		eventType, groupBy string
		startTime, endTime string
	)
	c := &cobra.Command{
		Use:     "timings",
		Short:   "Durations of an operation from its .start and .end notifications, in seconds (GET /v2/timings)",
		Example: `  altimeter timings -e compute.instance.create --group-by host`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if eventType == "" {
				return fmt.Errorf("bad --event-type: empty (want an operation such as compute.instance.create)")
			}
			q := url.Values{"event_type": {eventType}}
			for k, v := range map[string]string{"group_by": groupBy, "start": startTime, "end": endTime} {
				if v != "" {
					q.Set(k, v)
				}
			}
			return fetchList(cmd, &f, stdout, "/v2/timings", q, timingColumns, nil)
		},
	}
	f.register(c, true)
	c.Flags().StringVarP(&eventType, "event-type", "e", "", "the operation, without .start/.end (compute.instance.create)")
	c.Flags().StringVar(&groupBy, "group-by", "", "host or project_id")
	c.Flags().StringVar(&startTime, "start", "", "operations started at or after this time (ISO 8601)")
	c.Flags().StringVar(&endTime, "end", "", "operations started before this time (ISO 8601)")
	return c
}
