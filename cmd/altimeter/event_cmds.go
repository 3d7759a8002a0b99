package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

const eventQueryHelp = "query: field<op>value;... over event_type (a glob such as compute.*), message_id, " +
	"start_timestamp (>=, >), end_timestamp (<=, <) and trait names; op one of <=, >=, !=, =, <, >; " +
	"a trait value optionally typed as type::value (string, integer, float, datetime)"

// Table layouts, after pankoclient's columns.
var (
	eventColumns = []column{
		{"MESSAGE_ID", "message_id", kindText}, {"EVENT_TYPE", "event_type", kindText},
		{"GENERATED", "generated", kindTime}, {"TRAITS", "traits:summary", kindMeta},
	}
	eventFields = []column{
		{"message_id", "message_id", kindText}, {"event_type", "event_type", kindText},
		{"generated", "generated", kindTime},
	}
	eventTypeColumns  = []column{{"EVENT_TYPE", "event_type", kindText}}
	traitDescColumns  = []column{{"NAME", "name", kindText}, {"TYPE", "type", kindText}}
	traitValueColumns = []column{{"NAME", "name", kindText}, {"TYPE", "type", kindText}, {"VALUE", "value", kindText}}
)

func eventCmd(stdout io.Writer) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{Use: "event", Short: "Events (GET /v2/events, /v2/event_types)"}
	f.register(c, true)

	var (
		query string
		limit int
	)
	list := &cobra.Command{
		Use:     "list",
		Short:   "List events, oldest first (GET /v2/events)",
		Example: `  altimeter event list -q 'event_type=compute.instance.*;start_timestamp>=2026-11-22T00:00:00;memory_mb>integer::1024' -l 20`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := listParams(query, limit)
			if err != nil {
				return err
			}
			return fetchList(cmd, &f, stdout, "/v2/events", q, eventColumns, func(rows []map[string]any) {
				for _, r := range rows {
					r["traits:summary"] = traitSummary(r["traits"])
				}
			})
		},
	}
	list.Flags().StringVarP(&query, "query", "q", "", eventQueryHelp)
	list.Flags().IntVarP(&limit, "limit", "l", 0, "at most this many events (default: the API's limit)")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one event, its traits one per line (GET /v2/events/ID)",
		Args:  exactArg("event message ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetchOne(cmd, &f, stdout, "/v2/events/"+url.PathEscape(args[0]), nil, func(ev map[string]any) error {
				return renderProps(stdout, eventProps(ev))
			})
		},
	}

	c.AddCommand(list, show, eventTypeCmd(stdout, &f), eventTraitCmd(stdout, &f))
	return c
}

func eventTypeCmd(stdout io.Writer, f *apiFlags) *cobra.Command {
	c := &cobra.Command{Use: "type", Short: "Event types (GET /v2/event_types)"}
	var (
		limit  int
		marker string
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the event types stored, a page at a time",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := pageParams(limit, marker)
			if err != nil {
				return err
			}
			return fetchOne(cmd, f, stdout, "/v2/event_types", q, func(types []string) error {
				rows := make([]map[string]any, len(types))
				for i, t := range types {
					rows[i] = map[string]any{"event_type": t}
				}
				return renderTable(stdout, eventTypeColumns, rows)
			})
		},
	}
	list.Flags().IntVarP(&limit, "limit", "l", 0, "at most this many types (default: the API's, 1000)")
	list.Flags().StringVar(&marker, "marker", "", "start after this event type (the last of the previous page)")
	c.AddCommand(list)
	return c
}

// pageParams are the limit and marker of a listing, when set.
func pageParams(limit int, marker string) (url.Values, error) {
	q, err := listParams("", limit)
	if err != nil {
		return nil, err
	}
	if marker != "" {
		q.Set("marker", marker)
	}
	return q, nil
}

func eventTraitCmd(stdout io.Writer, f *apiFlags) *cobra.Command {
	c := &cobra.Command{Use: "trait", Short: "Traits of an event type (GET /v2/event_types/TYPE/traits)"}
	var (
		eventType, trait, marker string
		limit                    int
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List the traits of an event type, or with -t the values of one trait",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if eventType == "" {
				return fmt.Errorf("bad --event-type: empty")
			}
			path := "/v2/event_types/" + url.PathEscape(eventType) + "/traits"
			cols := traitDescColumns
			if cmd.Flags().Changed("trait-name") {
				if trait == "" {
					return fmt.Errorf("bad --trait-name: empty")
				}
				path += "/" + url.PathEscape(trait)
				cols = traitValueColumns
			}
			q, err := pageParams(limit, marker)
			if err != nil {
				return err
			}
			return fetchList(cmd, f, stdout, path, q, cols, nil)
		},
	}
	list.Flags().StringVarP(&eventType, "event-type", "e", "", "event type (required)")
	list.Flags().StringVarP(&trait, "trait-name", "t", "", "list the values of this trait instead of the trait names")
	list.Flags().IntVarP(&limit, "limit", "l", 0, "at most this many trait names, or values (default: the API's, 1000)")
	list.Flags().StringVar(&marker, "marker", "", "start after this trait name (the last of the previous page; not with -t)")
	_ = list.MarkFlagRequired("event-type")
	c.AddCommand(list)
	return c
}

// traitSummary renders an event's traits as name=value,... in the API's
// order (by name).
func traitSummary(v any) string {
	list, _ := v.([]any)
	parts := make([]string, 0, len(list))
	for _, x := range list {
		t, _ := x.(map[string]any)
		parts = append(parts, clean(fmt.Sprint(t["name"]))+"="+formatCell(t["value"], kindText))
	}
	return strings.Join(parts, ",")
}

// eventProps is the show view of an event: its fields, the raw payload
// (when kept) as compact JSON, then one line per trait as
// traits.<name> <value> (<type>).
func eventProps(ev map[string]any) []prop {
	props := objectProps(ev, eventFields, "")
	if raw, ok := ev["raw"]; ok && raw != nil {
		if m, isObj := raw.(map[string]any); !isObj || len(m) > 0 {
			b, err := json.Marshal(raw)
			if err == nil {
				props = append(props, prop{Name: "raw", Value: truncate(clean(string(b)), maxCellWidth)})
			}
		}
	}
	list, _ := ev["traits"].([]any)
	for _, x := range list {
		t, _ := x.(map[string]any)
		props = append(props, prop{
			Name:  "traits." + clean(fmt.Sprint(t["name"])),
			Value: fmt.Sprintf("%s (%s)", formatCell(t["value"], kindText), clean(fmt.Sprint(t["type"]))),
		})
	}
	return props
}
