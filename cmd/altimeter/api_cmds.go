package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// apiCommands are the CLI commands over the agent's Ceilometer v2 API, plus
// token management on the data directory.
func apiCommands(stdout, stderr io.Writer) []*cobra.Command {
	return []*cobra.Command{
		meterCmd(stdout), sampleCmd(stdout), statisticsCmd(stdout),
		resourceCmd(stdout), queryCmd(stdout), eventCmd(stdout), tokenCmd(stdout, stderr), clusterCmd(stdout),
		alarmCmd(stdout),
		notificationCmd(stdout), requestCmd(stdout), timingsCmd(stdout),
	}
}

const queryHelp = "query: field<op>value;... with op one of <=, >=, !=, =, <, > and value optionally typed as type::value (string, integer, float, datetime, boolean)"

// Table layouts, after python-ceilometerclient's columns.
var (
	meterColumns = []column{
		{"NAME", "name", kindText}, {"TYPE", "type", kindText}, {"UNIT", "unit", kindText},
		{"RESOURCE_ID", "resource_id", kindText}, {"USER_ID", "user_id", kindText}, {"PROJECT_ID", "project_id", kindText},
	}
	sampleColumns = []column{
		{"ID", "id", kindText}, {"RESOURCE_ID", "resource_id", kindText}, {"NAME", "meter", kindText},
		{"TYPE", "type", kindText}, {"VOLUME", "volume", kindText}, {"UNIT", "unit", kindText},
		{"TIMESTAMP", "timestamp", kindTime},
	}
	sampleFields = []column{
		{"id", "id", kindText}, {"meter", "meter", kindText}, {"volume", "volume", kindText},
		{"type", "type", kindText}, {"unit", "unit", kindText}, {"source", "source", kindText},
		{"resource_id", "resource_id", kindText}, {"user_id", "user_id", kindText}, {"project_id", "project_id", kindText},
		{"timestamp", "timestamp", kindTime}, {"recorded_at", "recorded_at", kindTime},
	}
	oldSampleFields = []column{
		{"message_id", "message_id", kindText}, {"name", "counter_name", kindText}, {"volume", "counter_volume", kindText},
		{"type", "counter_type", kindText}, {"unit", "counter_unit", kindText}, {"source", "source", kindText},
		{"resource_id", "resource_id", kindText}, {"user_id", "user_id", kindText}, {"project_id", "project_id", kindText},
		{"timestamp", "timestamp", kindTime}, {"recorded_at", "recorded_at", kindTime},
	}
	resourceColumns = []column{
		{"RESOURCE_ID", "resource_id", kindText}, {"SOURCE", "source", kindText}, {"USER_ID", "user_id", kindText},
		{"PROJECT_ID", "project_id", kindText}, {"LAST_SAMPLE", "last_sample_timestamp", kindTime},
		{"METADATA", "metadata", kindMeta},
	}
	resourceFields = []column{
		{"resource_id", "resource_id", kindText}, {"source", "source", kindText}, {"user_id", "user_id", kindText},
		{"project_id", "project_id", kindText}, {"first_sample_timestamp", "first_sample_timestamp", kindTime},
		{"last_sample_timestamp", "last_sample_timestamp", kindTime},
	}
)

// statsAggregates are the aggregate functions Ceilometer knows.
var statsAggregates = []string{"avg", "cardinality", "count", "max", "min", "stddev", "sum"}

func meterCmd(stdout io.Writer) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{Use: "meter", Short: "Meters (GET /v2/meters)"}
	f.register(c, true)
	var (
		query string
		limit int
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List meters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := listParams(query, limit)
			if err != nil {
				return err
			}
			return fetchList(cmd, &f, stdout, "/v2/meters", q, meterColumns, func(rows []map[string]any) {
				sort.SliceStable(rows, func(i, j int) bool {
					return fmt.Sprint(rows[i]["name"]) < fmt.Sprint(rows[j]["name"])
				})
			})
		},
	}
	list.Flags().StringVarP(&query, "query", "q", "", queryHelp)
	list.Flags().IntVarP(&limit, "limit", "l", 0, "at most this many meters (default: the API's limit)")
	c.AddCommand(list)
	return c
}

func sampleCmd(stdout io.Writer) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{Use: "sample", Short: "Samples (/v2/samples, POST /v2/meters/METER)"}
	f.register(c, true)

	var (
		query, meter string
		limit        int
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List samples, newest first (-m filters on one meter)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := listParams(query, limit)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("meter") {
				if meter == "" {
					return fmt.Errorf("bad --meter: empty")
				}
				q.Add("q.field", "meter")
				q.Add("q.op", "eq")
				q.Add("q.type", "")
				q.Add("q.value", meter)
			}
			return fetchList(cmd, &f, stdout, "/v2/samples", q, sampleColumns, nil)
		},
	}
	list.Flags().StringVarP(&query, "query", "q", "", queryHelp)
	list.Flags().StringVarP(&meter, "meter", "m", "", "only samples of this meter")
	list.Flags().IntVarP(&limit, "limit", "l", 0, "at most this many samples (default: the API's limit)")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one sample (GET /v2/samples/ID)",
		Args:  exactArg("sample ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetchOne(cmd, &f, stdout, "/v2/samples/"+url.PathEscape(args[0]), nil, propsOf(stdout, sampleFields, "metadata"))
		},
	}

	c.AddCommand(list, show, sampleCreateCmd(stdout, &f))
	return c
}

func sampleCreateCmd(stdout io.Writer, f *apiFlags) *cobra.Command {
	var meter, typ, unit, volume, resource, project, user, ts, metadata string
	c := &cobra.Command{
		Use:   "create",
		Short: "Post one sample (POST /v2/meters/METER)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := newSampleBody(meter, typ, unit, volume, resource, project, user, ts, metadata)
			if err != nil {
				return err
			}
			asJSON, err := f.json()
			if err != nil {
				return err
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			b, err := cl.post(cmd.Context(), "/v2/meters/"+url.PathEscape(meter), []map[string]any{body})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(stdout, b)
			}
			var out []map[string]any
			if err := decode(b, &out); err != nil {
				return err
			}
			if len(out) == 0 {
				return fmt.Errorf("POST /v2/meters/%s: the API returned no sample", meter)
			}
			return renderProps(stdout, objectProps(out[0], oldSampleFields, "resource_metadata"))
		},
	}
	fl := c.Flags()
	fl.StringVarP(&meter, "meter-name", "m", "", "meter name (required)")
	fl.StringVar(&typ, "meter-type", "", "gauge|delta|cumulative (required)")
	fl.StringVar(&unit, "meter-unit", "", "unit, such as B or ns (required)")
	fl.StringVar(&volume, "sample-volume", "", "the value, a number (required)")
	fl.StringVarP(&resource, "resource-id", "r", "", "resource ID (required)")
	fl.StringVar(&project, "project-id", "", "project (admin only; default: the token's project)")
	fl.StringVar(&user, "user-id", "", "user")
	fl.StringVar(&ts, "timestamp", "", "RFC 3339 time (default: now, set by the API)")
	fl.StringVar(&metadata, "resource-metadata", "", `resource metadata as a JSON object, e.g. '{"flavor":"m1.small"}'`)
	for _, n := range []string{"meter-name", "meter-type", "meter-unit", "sample-volume", "resource-id"} {
		_ = c.MarkFlagRequired(n)
	}
	return c
}

// newSampleBody validates sample create's flags and builds Ceilometer's
// OldSample body.
func newSampleBody(meter, typ, unit, volume, resource, project, user, ts, metadata string) (map[string]any, error) {
	if strings.TrimSpace(meter) == "" {
		return nil, fmt.Errorf("bad --meter-name: empty")
	}
	switch typ {
	case "gauge", "delta", "cumulative":
	default:
		return nil, fmt.Errorf("bad --meter-type %q: want gauge, delta or cumulative", typ)
	}
	if strings.TrimSpace(unit) == "" {
		return nil, fmt.Errorf("bad --meter-unit: empty")
	}
	if strings.TrimSpace(resource) == "" {
		return nil, fmt.Errorf("bad --resource-id: empty")
	}
	if _, err := strconv.ParseFloat(volume, 64); err != nil {
		return nil, fmt.Errorf("bad --sample-volume %q: not a number", volume)
	}
	body := map[string]any{
		"counter_name":   meter,
		"counter_type":   typ,
		"counter_unit":   unit,
		"counter_volume": json.Number(volume),
		"resource_id":    resource,
	}
	if project != "" {
		body["project_id"] = project
	}
	if user != "" {
		body["user_id"] = user
	}
	if ts != "" {
		if _, ok := parseTime(ts); !ok {
			return nil, fmt.Errorf("bad --timestamp %q: want RFC 3339, e.g. 2026-01-02T15:04:05Z", ts)
		}
		body["timestamp"] = ts
	}
	if metadata != "" {
		var m map[string]any
		if err := decode([]byte(metadata), &m); err != nil || m == nil {
			return nil, fmt.Errorf(`bad --resource-metadata: want a JSON object such as '{"key":"value"}'`)
		}
		body["resource_metadata"] = m
	}
	return body, nil
}

func statisticsCmd(stdout io.Writer) *cobra.Command {
	var (
		f                       apiFlags
		meter, query, period    string
		groupby, aggregateFlags []string
	)
	c := &cobra.Command{
		Use:   "statistics",
		Short: "Statistics of a meter (GET /v2/meters/METER/statistics)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if meter == "" {
				return fmt.Errorf("bad --meter: empty")
			}
			q, err := listParams(query, 0)
			if err != nil {
				return err
			}
			if period != "" {
				if p, err := strconv.Atoi(period); err != nil || p <= 0 {
					return fmt.Errorf("bad --period %q: want a whole number of seconds above 0", period)
				}
				q.Set("period", period)
			}
			for _, g := range groupby {
				if g == "" {
					return fmt.Errorf("bad --groupby: empty")
				}
				q.Add("groupby", g)
			}
			aggs, err := parseAggregates(aggregateFlags)
			if err != nil {
				return err
			}
			// Aggregates with a parameter go first so aggregate.func and
			// aggregate.param line up (as python-ceilometerclient sends them).
			for _, a := range aggs {
				if a.param != "" {
					q.Add("aggregate.func", a.fn)
					q.Add("aggregate.param", a.param)
				}
			}
			for _, a := range aggs {
				if a.param == "" {
					q.Add("aggregate.func", a.fn)
				}
			}
			cols := statisticsColumns(len(groupby) > 0, aggs)
			return fetchList(cmd, &f, stdout, "/v2/meters/"+url.PathEscape(meter)+"/statistics", q, cols, func(rows []map[string]any) {
				for _, r := range rows {
					if agg, ok := r["aggregate"].(map[string]any); ok {
						for k, v := range agg {
							r["aggregate:"+k] = v
						}
					}
				}
			})
		},
	}
	f.register(c, true)
	fl := c.Flags()
	fl.StringVarP(&meter, "meter", "m", "", "meter name (required)")
	fl.StringVarP(&query, "query", "q", "", queryHelp)
	fl.StringVarP(&period, "period", "p", "", "period in seconds to group samples by (default: one period over everything)")
	fl.StringArrayVarP(&groupby, "groupby", "g", nil, "field to group by (repeat for several): resource_id, user_id, project_id, source, ...")
	fl.StringArrayVarP(&aggregateFlags, "aggregate", "a", nil, "FUNC or FUNC<-PARAM (repeat for several); FUNC one of "+strings.Join(statsAggregates, ", "))
	_ = c.MarkFlagRequired("meter")
	return c
}

type aggregate struct{ fn, param string }

// parseAggregates reads -a values: func or func<-param.
func parseAggregates(in []string) ([]aggregate, error) {
	out := make([]aggregate, 0, len(in))
	for _, s := range in {
		fn, param, hasParam := strings.Cut(s, "<-")
		if hasParam && param == "" {
			return nil, fmt.Errorf("bad --aggregate %q: missing parameter after <-", s)
		}
		if !slices.Contains(statsAggregates, fn) {
			return nil, fmt.Errorf("bad --aggregate %q: unknown function %q (want one of %s)", s, fn, strings.Join(statsAggregates, ", "))
		}
		out = append(out, aggregate{fn: fn, param: param})
	}
	return out, nil
}

// statisticsColumns follows python-ceilometerclient: period columns, the
// group, the asked aggregates (or max, min, avg, sum, count), durations.
func statisticsColumns(grouped bool, aggs []aggregate) []column {
	cols := []column{{"PERIOD", "period", kindText}, {"PERIOD_START", "period_start", kindTime}, {"PERIOD_END", "period_end", kindTime}}
	if grouped {
		cols = append(cols, column{"GROUPBY", "groupby", kindKV})
	}
	if len(aggs) == 0 {
		for _, k := range []string{"max", "min", "avg", "sum", "count"} {
			cols = append(cols, column{strings.ToUpper(k), k, kindText})
		}
	}
	for _, a := range aggs {
		key := a.fn
		if a.param != "" {
			key += "/" + a.param
		}
		cols = append(cols, column{strings.ToUpper(key), "aggregate:" + key, kindText})
	}
	return append(cols,
		column{"UNIT", "unit", kindText},
		column{"DURATION", "duration", kindText},
		column{"DURATION_START", "duration_start", kindTime},
		column{"DURATION_END", "duration_end", kindTime})
}

func resourceCmd(stdout io.Writer) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{Use: "resource", Short: "Resources (GET /v2/resources)"}
	f.register(c, true)
	var (
		query string
		limit int
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List resources",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := listParams(query, limit)
			if err != nil {
				return err
			}
			return fetchList(cmd, &f, stdout, "/v2/resources", q, resourceColumns, nil)
		},
	}
	list.Flags().StringVarP(&query, "query", "q", "", queryHelp)
	list.Flags().IntVarP(&limit, "limit", "l", 0, "at most this many resources (default: the API's limit)")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one resource (GET /v2/resources/ID)",
		Args:  exactArg("resource ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetchOne(cmd, &f, stdout, "/v2/resources/"+url.PathEscape(args[0]), nil, propsOf(stdout, resourceFields, "metadata"))
		},
	}
	c.AddCommand(list, show)
	return c
}

func queryCmd(stdout io.Writer) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{Use: "query", Short: "Complex queries (POST /v2/query/...)"}
	f.register(c, true)
	var (
		filter, orderby string
		limit           int
	)
	samples := &cobra.Command{
		Use:   "samples",
		Short: "Query samples with a JSON filter (POST /v2/query/samples)",
		Long: `Query samples with a JSON filter (POST /v2/query/samples).

The filter is {complex_op: [{simple_op: {field: value}}, ...]} with complex_op
one of and, or, not and simple_op one of =, !=, <, <=, >, >=, in, =~; the order
is [{field: asc|desc}, ...]. -o stays the output format, so the order has no
short flag: use --orderby (python-ceilometerclient's -o).`,
		Example: `  altimeter query samples -f '{"and": [{"=": {"meter": "cpu"}}, {">": {"volume": 0.5}}]}' --orderby '[{"timestamp": "desc"}]' -l 10`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := map[string]any{}
			if filter != "" {
				if !json.Valid([]byte(filter)) {
					return fmt.Errorf("bad --filter: not JSON: %s", truncate(clean(filter), 80))
				}
				body["filter"] = filter
			}
			if orderby != "" {
				if !json.Valid([]byte(orderby)) {
					return fmt.Errorf("bad --orderby: not JSON: %s", truncate(clean(orderby), 80))
				}
				body["orderby"] = orderby
			}
			if limit < 0 {
				return fmt.Errorf("bad --limit %d: want a number above 0", limit)
			}
			if limit > 0 {
				body["limit"] = limit
			}
			asJSON, err := f.json()
			if err != nil {
				return err
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			b, err := cl.post(cmd.Context(), "/v2/query/samples", body)
			if err != nil {
				return err
			}
			return printList(stdout, b, asJSON, sampleColumns, nil)
		},
	}
	samples.Flags().StringVarP(&filter, "filter", "f", "", "JSON filter, e.g. '{\"=\": {\"meter\": \"cpu\"}}'")
	samples.Flags().StringVar(&orderby, "orderby", "", "JSON order, e.g. '[{\"timestamp\": \"desc\"}]'")
	samples.Flags().IntVarP(&limit, "limit", "l", 0, "at most this many samples (default: the API's limit)")
	c.AddCommand(samples)
	return c
}

// listParams parses -q and --limit into request parameters.
func listParams(query string, limit int) (url.Values, error) {
	items, err := parseQuery(query)
	if err != nil {
		return nil, err
	}
	q := queryValues(items)
	if limit < 0 {
		return nil, fmt.Errorf("bad --limit %d: want a number above 0", limit)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return q, nil
}

// fetchList GETs a JSON list and prints it as a table (after prep) or as
// the API's JSON.
func fetchList(cmd *cobra.Command, f *apiFlags, stdout io.Writer, path string, q url.Values, cols []column, prep func([]map[string]any)) error {
	asJSON, err := f.json()
	if err != nil {
		return err
	}
	cl, err := f.client()
	if err != nil {
		return err
	}
	b, err := cl.get(cmd.Context(), path, q)
	if err != nil {
		return err
	}
	return printList(stdout, b, asJSON, cols, prep)
}

func printList(stdout io.Writer, b []byte, asJSON bool, cols []column, prep func([]map[string]any)) error {
	if asJSON {
		return printJSON(stdout, b)
	}
	var rows []map[string]any
	if err := decode(b, &rows); err != nil {
		return err
	}
	if prep != nil {
		prep(rows)
	}
	return renderTable(stdout, cols, rows)
}

// fetchOne GETs path (with the query q) and prints the answer: as it came
// with -o json, else decoded into a T and handed to render (the show view).
func fetchOne[T any](cmd *cobra.Command, f *apiFlags, stdout io.Writer, path string, q url.Values, render func(T) error) error {
	if _, err := f.json(); err != nil {
		return err // a bad -o is told before the request is made
	}
	cl, err := f.client()
	if err != nil {
		return err
	}
	b, err := cl.get(cmd.Context(), path, q)
	if err != nil {
		return err
	}
	return showOne(f, stdout, b, render)
}

// showOne prints an answer b: as it came with -o json, else decoded into
// a T and handed to render.
func showOne[T any](f *apiFlags, stdout io.Writer, b []byte, render func(T) error) error {
	asJSON, err := f.json()
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, b)
	}
	var v T
	if err := decode(b, &v); err != nil {
		return err
	}
	return render(v)
}

// propsOf renders an object as a show view of fields (metadata under
// metaKey, when not empty).
func propsOf(stdout io.Writer, fields []column, metaKey string) func(map[string]any) error {
	return func(obj map[string]any) error { return renderProps(stdout, objectProps(obj, fields, metaKey)) }
}

// exactArg wants exactly one non-empty positional argument.
func exactArg(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 || args[0] == "" {
			return fmt.Errorf("want one %s, got %d arguments", what, len(args))
		}
		return nil
	}
}
