package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// Alarm table layouts, after aodhclient's columns.
var (
	alarmColumns = []column{
		{"ALARM_ID", "alarm_id", kindText}, {"TYPE", "type", kindText}, {"NAME", "name", kindText},
		{"STATE", "state", kindText}, {"SEVERITY", "severity", kindText}, {"ENABLED", "enabled", kindText},
	}
	alarmHistoryColumns = []column{
		{"TIMESTAMP", "timestamp", kindTime}, {"TYPE", "type", kindText}, {"DETAIL", "detail", kindMeta}, {"EVENT_ID", "event_id", kindText},
	}
)

// alarmFlags are aodh alarm create/update's flags.
type alarmFlags struct {
	name, typ, projectID, userID, description, state, severity string
	enabled, repeatActions                                     bool
	alarmActions, okActions, insufficientActions, constraints  []string
	query, comparison, eventType, meterName, statistic         string
	aggregation, resourceType, resourceID, composite           string
	threshold                                                  float64
	evalPeriods, period, granularity                           int
	metrics                                                    []string
}

func (a *alarmFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&a.name, "name", "", "name of the alarm (unique in its project)")
	f.StringVarP(&a.typ, "type", "t", "", "type: threshold, event, composite, gnocchi_resources_threshold, gnocchi_aggregation_by_metrics_threshold, gnocchi_aggregation_by_resources_threshold, prometheus")
	f.StringVar(&a.projectID, "project-id", "", "project of the alarm (admin; a member's alarms are its project's)")
	f.StringVar(&a.userID, "user-id", "", "user of the alarm")
	f.StringVar(&a.description, "description", "", "free text")
	f.StringVar(&a.state, "state", "", "state: ok, alarm, insufficient data")
	f.StringVar(&a.severity, "severity", "", "severity: low, moderate, critical")
	f.BoolVar(&a.enabled, "enabled", true, "evaluate the alarm")
	f.BoolVar(&a.repeatActions, "repeat-actions", false, "run the actions at every evaluation while the state holds")
	f.StringArrayVar(&a.alarmActions, "alarm-action", nil, "URL run on entering alarm (http, https, log, trust+http(s)); repeatable")
	f.StringArrayVar(&a.okActions, "ok-action", nil, "URL run on entering ok; repeatable")
	f.StringArrayVar(&a.insufficientActions, "insufficient-data-action", nil, "URL run on entering insufficient data; repeatable")
	f.StringArrayVar(&a.constraints, "time-constraint", nil, "name=N;start=CRON;duration=SECONDS[;description=D][;timezone=TZ]; repeatable")
	f.StringVar(&a.query, "query", "", "threshold and event rules: field<op>value;...; gnocchi_aggregation_by_resources_threshold: a JSON search")
	f.StringVar(&a.comparison, "comparison-operator", "", "lt, le, eq, ne, ge, gt")
	f.IntVar(&a.evalPeriods, "evaluation-periods", 0, "number of periods to evaluate over")
	f.Float64Var(&a.threshold, "threshold", 0, "threshold to evaluate against")
	f.StringVar(&a.eventType, "event-type", "", "event rule: event type glob")
	f.StringVarP(&a.meterName, "meter-name", "m", "", "threshold rule: meter")
	f.IntVar(&a.period, "period", 0, "threshold rule: length of each period (seconds)")
	f.StringVar(&a.statistic, "statistic", "", "threshold rule: avg, min, max, sum, count")
	f.IntVar(&a.granularity, "granularity", 0, "gnocchi rules: granularity (seconds) of an archive of the metric's policy")
	f.StringVar(&a.aggregation, "aggregation-method", "", "gnocchi rules: aggregation method")
	f.StringArrayVar(&a.metrics, "metric", nil, "gnocchi rules: metric (meter), or meter ids for by-metrics; repeatable")
	f.StringVar(&a.resourceType, "resource-type", "", "gnocchi rules: resource type")
	f.StringVar(&a.resourceID, "resource-id", "", "gnocchi_resources_threshold: resource")
	f.StringVar(&a.composite, "composite-rule", "", "composite rule as JSON: {\"or\": [rule, ...]} or {\"and\": [...]}")
}

// body returns the changed fields as an Aodh alarm body; the rule fields
// go under "<typ>_rule".
func (a *alarmFlags) body(c *cobra.Command, typ string) (map[string]any, error) {
	ch := c.Flags().Changed
	b := map[string]any{}
	set := func(flag, key string, v any) {
		if ch(flag) {
			b[key] = v
		}
	}
	set("name", "name", a.name)
	set("type", "type", a.typ)
	set("project-id", "project_id", a.projectID)
	set("user-id", "user_id", a.userID)
	set("description", "description", a.description)
	set("state", "state", a.state)
	set("severity", "severity", a.severity)
	set("enabled", "enabled", a.enabled)
	set("repeat-actions", "repeat_actions", a.repeatActions)
	set("alarm-action", "alarm_actions", a.alarmActions)
	set("ok-action", "ok_actions", a.okActions)
	set("insufficient-data-action", "insufficient_data_actions", a.insufficientActions)
	if ch("time-constraint") {
		tcs, err := parseConstraints(a.constraints)
		if err != nil {
			return nil, err
		}
		b["time_constraints"] = tcs
	}
	rule := map[string]any{}
	rset := func(flag, key string, v any) {
		if ch(flag) {
			rule[key] = v
		}
	}
	rset("comparison-operator", "comparison_operator", a.comparison)
	rset("evaluation-periods", "evaluation_periods", a.evalPeriods)
	rset("threshold", "threshold", a.threshold)
	rset("event-type", "event_type", a.eventType)
	rset("meter-name", "meter_name", a.meterName)
	rset("period", "period", a.period)
	rset("statistic", "statistic", a.statistic)
	rset("granularity", "granularity", a.granularity)
	rset("aggregation-method", "aggregation_method", a.aggregation)
	rset("resource-type", "resource_type", a.resourceType)
	rset("resource-id", "resource_id", a.resourceID)
	if ch("metric") {
		if typ == "gnocchi_aggregation_by_metrics_threshold" {
			rule["metrics"] = a.metrics
		} else {
			rule["metric"] = a.metrics[len(a.metrics)-1]
		}
	}
	if ch("query") {
		if typ == "threshold" || typ == "event" {
			items, err := parseQuery(a.query)
			if err != nil {
				return nil, fmt.Errorf("bad --query: %w", err)
			}
			q := make([]map[string]string, len(items))
			for i, it := range items {
				q[i] = map[string]string{"field": it.Field, "op": it.Op, "value": it.Value}
				if it.Type != "" {
					q[i]["type"] = it.Type
				}
			}
			rule["query"] = q
		} else {
			rule["query"] = a.query
		}
	}
	if ch("composite-rule") {
		var cr any
		if err := json.Unmarshal([]byte(a.composite), &cr); err != nil {
			return nil, fmt.Errorf("bad --composite-rule: not JSON: %w", err)
		}
		b["composite_rule"] = cr
	} else if len(rule) > 0 {
		if typ == "" {
			return nil, fmt.Errorf("rule flags need --type")
		}
		b[typ+"_rule"] = rule
	}
	return b, nil
}

// parseConstraints reads aodh's --time-constraint form.
func parseConstraints(list []string) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(list))
	for _, s := range list {
		tc := map[string]any{}
		for _, kv := range strings.Split(s, ";") {
			k, v, ok := strings.Cut(kv, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" {
				return nil, fmt.Errorf("bad --time-constraint %q: want key=value;... (name, start, duration, description, timezone)", s)
			}
			switch k {
			case "name", "start", "description", "timezone":
				tc[k] = v
			case "duration":
				n, err := strconv.Atoi(strings.TrimSpace(v))
				if err != nil {
					return nil, fmt.Errorf("bad --time-constraint %q: duration %q is not a number of seconds", s, v)
				}
				tc[k] = n
			default:
				return nil, fmt.Errorf("bad --time-constraint %q: unknown key %q", s, k)
			}
		}
		out = append(out, tc)
	}
	return out, nil
}

// alarmView renders an alarm as its show view.
func alarmView(stdout io.Writer) func(map[string]any) error {
	return func(al map[string]any) error { return renderProps(stdout, alarmProps(al)) }
}

func alarmCmd(stdout io.Writer) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{Use: "alarm", Short: "Alarms (Aodh v2: /v2/alarms), with aodh's flags"}
	f.register(c, true)

	show := func(_ *cobra.Command, b []byte) error { return showOne(&f, stdout, b, alarmView(stdout)) }

	var cf alarmFlags
	create := &cobra.Command{
		Use:     "create",
		Short:   "Create an alarm (POST /v2/alarms)",
		Example: `  altimeter alarm create --name cpu-high -t threshold -m cpu_util --threshold 80 --comparison-operator gt --period 60 --evaluation-periods 3 --statistic avg --query resource_id=INSTANCE --alarm-action http://127.0.0.1:8080/hook`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cf.name == "" || cf.typ == "" {
				return fmt.Errorf("--name and --type are required")
			}
			body, err := cf.body(cmd, cf.typ)
			if err != nil {
				return err
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			b, err := cl.post(cmd.Context(), "/v2/alarms", body)
			if err != nil {
				return err
			}
			return show(cmd, b)
		},
	}
	cf.register(create)

	var uf alarmFlags
	update := &cobra.Command{
		Use:   "update ID",
		Short: "Update an alarm: the flags given change, the rest stays (GET, then PUT /v2/alarms/ID)",
		Args:  exactArg("alarm ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			path := "/v2/alarms/" + url.PathEscape(args[0])
			b, err := cl.get(cmd.Context(), path, nil)
			if err != nil {
				return err
			}
			var cur map[string]any
			if err := decode(b, &cur); err != nil {
				return err
			}
			oldType, _ := cur["type"].(string)
			typ := oldType
			if cmd.Flags().Changed("type") {
				typ = uf.typ
			}
			changes, err := uf.body(cmd, typ)
			if err != nil {
				return err
			}
			mergeAlarm(cur, changes, oldType, typ)
			b, err = cl.do(cmd.Context(), http.MethodPut, path, nil, cur)
			if err != nil {
				return err
			}
			return show(cmd, b)
		},
	}
	uf.register(update)

	var (
		query, marker string
		limit         int
		sorts         []string
	)
	list := &cobra.Command{
		Use:     "list",
		Short:   "List alarms (GET /v2/alarms)",
		Example: `  altimeter alarm list --query 'type=threshold;state=alarm' --sort name:asc --limit 20`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := listParams(query, limit)
			if err != nil {
				return err
			}
			if marker != "" {
				q.Set("marker", marker)
			}
			for _, s := range sorts {
				q.Add("sort", s)
			}
			return fetchList(cmd, &f, stdout, "/v2/alarms", q, alarmColumns, nil)
		},
	}
	list.Flags().StringVarP(&query, "query", "q", "", "filter: field<op>value;... over alarm_id, name, type, state, severity, enabled, project_id, user_id, timestamp, ...")
	list.Flags().IntVarP(&limit, "limit", "l", 0, "at most this many alarms")
	list.Flags().StringVar(&marker, "marker", "", "the alarm_id of the last alarm of the previous page")
	list.Flags().StringArrayVar(&sorts, "sort", nil, "field[:asc|desc]; repeatable")

	showCmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an alarm (GET /v2/alarms/ID)",
		Args:  exactArg("alarm ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fetchOne(cmd, &f, stdout, "/v2/alarms/"+url.PathEscape(args[0]), nil, alarmView(stdout))
		},
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an alarm (DELETE /v2/alarms/ID)",
		Args:  exactArg("alarm ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			_, err = cl.do(cmd.Context(), http.MethodDelete, "/v2/alarms/"+url.PathEscape(args[0]), nil, nil)
			return err
		},
	}

	var hLimit int
	var hMarker string
	var hSorts []string
	history := &cobra.Command{
		Use:   "history ID",
		Short: "An alarm's history, newest first (GET /v2/alarms/ID/history)",
		Args:  exactArg("alarm ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := listParams("", hLimit)
			if err != nil {
				return err
			}
			if hMarker != "" {
				q.Set("marker", hMarker)
			}
			for _, s := range hSorts {
				q.Add("sort", s)
			}
			return fetchList(cmd, &f, stdout, "/v2/alarms/"+url.PathEscape(args[0])+"/history", q, alarmHistoryColumns, nil)
		},
	}
	history.Flags().IntVarP(&hLimit, "limit", "l", 0, "at most this many entries")
	history.Flags().StringVar(&hMarker, "marker", "", "the event_id of the last entry of the previous page")
	history.Flags().StringArrayVar(&hSorts, "sort", nil, "field[:asc|desc]; repeatable")

	c.AddCommand(create, update, list, showCmd, del, history, alarmStateCmd(stdout, &f))
	return c
}

func alarmStateCmd(stdout io.Writer, f *apiFlags) *cobra.Command {
	c := &cobra.Command{Use: "state", Short: "An alarm's state (GET|PUT /v2/alarms/ID/state)"}
	printState := func(b []byte) error {
		var s string
		if err := decode(b, &s); err != nil {
			return err
		}
		_, err := fmt.Fprintln(stdout, s)
		return err
	}
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Print an alarm's state",
		Args:  exactArg("alarm ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			b, err := cl.get(cmd.Context(), "/v2/alarms/"+url.PathEscape(args[0])+"/state", nil)
			if err != nil {
				return err
			}
			return printState(b)
		},
	}
	var state string
	set := &cobra.Command{
		Use:   "set ID --state STATE",
		Short: "Set an alarm's state (recorded in its history; runs no actions)",
		Args:  exactArg("alarm ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if state == "" {
				return fmt.Errorf("--state is required: ok, alarm or insufficient data")
			}
			cl, err := f.client()
			if err != nil {
				return err
			}
			b, err := cl.do(cmd.Context(), http.MethodPut, "/v2/alarms/"+url.PathEscape(args[0])+"/state", nil, state)
			if err != nil {
				return err
			}
			return printState(b)
		},
	}
	set.Flags().StringVar(&state, "state", "", "ok, alarm or insufficient data")
	c.AddCommand(get, set)
	return c
}

// mergeAlarm applies an update's changes to the alarm as GET returned it,
// as aodhclient does: rule fields merge into the current rule unless the
// type changes.
func mergeAlarm(cur, changes map[string]any, oldType, typ string) {
	for k, v := range changes {
		if !strings.HasSuffix(k, "_rule") {
			cur[k] = v
		}
	}
	newRule, _ := changes[typ+"_rule"].(map[string]any)
	if typ != oldType {
		delete(cur, oldType+"_rule")
		if cr, ok := changes["composite_rule"]; ok {
			cur["composite_rule"] = cr
		} else {
			cur[typ+"_rule"] = newRule
		}
		return
	}
	if cr, ok := changes["composite_rule"]; ok {
		cur["composite_rule"] = cr
		return
	}
	if newRule != nil {
		rule, _ := cur[typ+"_rule"].(map[string]any)
		if rule == nil {
			rule = map[string]any{}
		}
		for k, v := range newRule {
			rule[k] = v
		}
		cur[typ+"_rule"] = rule
	}
}

// alarmProps is the show view: the alarm's fields, then its rule's, one a
// line as rule.<field>, in name order.
func alarmProps(al map[string]any) []prop {
	typ, _ := al["type"].(string)
	keys := make([]string, 0, len(al))
	for k := range al {
		if k != typ+"_rule" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []prop
	for _, k := range keys {
		kind := kindText
		if k == "timestamp" || k == "state_timestamp" {
			kind = kindTime
		}
		out = append(out, prop{Name: k, Value: formatCell(al[k], kind)})
	}
	rule, _ := al[typ+"_rule"].(map[string]any)
	rkeys := make([]string, 0, len(rule))
	for k := range rule {
		rkeys = append(rkeys, k)
	}
	sort.Strings(rkeys)
	for _, k := range rkeys {
		out = append(out, prop{Name: "rule." + k, Value: formatCell(rule[k], kindMeta)})
	}
	return out
}
