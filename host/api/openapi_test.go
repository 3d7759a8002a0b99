package api

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/sample"
)

// schemaValidator checks a decoded JSON value against the subset of
// OpenAPI's JSON Schema that openapi.json uses: $ref (to
// #/components/...), type, nullable, enum, required, properties,
// additionalProperties and items.
type schemaValidator struct{ doc map[string]any }

func (v schemaValidator) resolve(s map[string]any) (map[string]any, error) {
	for range 10 {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s, nil
		}
		var node any = v.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, ok := node.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("bad $ref %s", ref)
			}
			node = m[part]
		}
		s, ok = node.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("dangling $ref %s", ref)
		}
	}
	return nil, fmt.Errorf("$ref loop")
}

func (v schemaValidator) validate(schema map[string]any, val any, at string) error {
	s, err := v.resolve(schema)
	if err != nil {
		return fmt.Errorf("%s: %w", at, err)
	}
	for k := range s {
		switch k {
		case "type", "nullable", "enum", "required", "properties", "additionalProperties", "items",
			"description", "format", "minimum":
		default:
			return fmt.Errorf("%s: schema keyword %q is outside the validated subset", at, k)
		}
	}
	if val == nil {
		if s["nullable"] == true {
			return nil
		}
		return fmt.Errorf("%s: null is not allowed", at)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, val) {
		return fmt.Errorf("%s: %v is not one of %v", at, val, enum)
	}
	typ, _ := s["type"].(string)
	switch typ {
	case "string":
		if _, ok := val.(string); !ok {
			return fmt.Errorf("%s: want a string, got %T", at, val)
		}
	case "number":
		if _, ok := val.(float64); !ok {
			return fmt.Errorf("%s: want a number, got %T", at, val)
		}
	case "integer":
		f, ok := val.(float64)
		if !ok || f != float64(int64(f)) {
			return fmt.Errorf("%s: want an integer, got %v", at, val)
		}
	case "boolean":
		if _, ok := val.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", at, val)
		}
	case "array":
		list, ok := val.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %T", at, val)
		}
		items, _ := s["items"].(map[string]any)
		for i, x := range list {
			if items != nil {
				if err := v.validate(items, x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case "object":
		obj, ok := val.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %T", at, val)
		}
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				return fmt.Errorf("%s: required property %q is missing", at, r)
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, x := range obj {
			if ps, ok := props[k].(map[string]any); ok {
				if err := v.validate(ps, x, at+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case map[string]any:
				if err := v.validate(ap, x, at+"."+k); err != nil {
					return err
				}
			case bool:
				if !ap {
					return fmt.Errorf("%s: property %q is not allowed", at, k)
				}
			case nil:
				if props != nil {
					return fmt.Errorf("%s: property %q is not described", at, k)
				}
			}
		}
	case "":
	default:
		return fmt.Errorf("%s: unknown type %q", at, typ)
	}
	return nil
}

func TestSchemaValidatorRejects(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"components": map[string]any{"schemas": map[string]any{
		"T": map[string]any{"type": "object", "required": []any{"a"}, "properties": map[string]any{
			"a": map[string]any{"type": "string", "enum": []any{"x", "y"}},
			"n": map[string]any{"type": "integer", "nullable": true},
			"l": map[string]any{"type": "array", "items": map[string]any{"type": "boolean"}},
			"m": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "number"}},
		}},
	}}}
	v := schemaValidator{doc}
	ref := map[string]any{"$ref": "#/components/schemas/T"}
	for _, tc := range []struct {
		name, json string
		ok         bool
	}{
		{"valid", `{"a": "x", "n": null, "l": [true], "m": {"k": 1.5}}`, true},
		{"missing required", `{"n": 1}`, false},
		{"bad enum", `{"a": "z"}`, false},
		{"not integer", `{"a": "x", "n": 1.5}`, false},
		{"null not allowed", `{"a": null}`, false},
		{"bad item", `{"a": "x", "l": [1]}`, false},
		{"bad additional", `{"a": "x", "m": {"k": "s"}}`, false},
		{"undescribed property", `{"a": "x", "extra": 1}`, false},
		{"not an object", `[1]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var val any
			require.NoError(t, json.Unmarshal([]byte(tc.json), &val))
			err := v.validate(ref, val, "$")
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
	require.Error(t, v.validate(map[string]any{"$ref": "#/components/schemas/None"}, 1, "$"))
	require.Error(t, v.validate(map[string]any{"type": "string", "pattern": "x"}, "x", "$"), "unvalidated keywords are refused")
}

var pathParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// TestOpenAPIConformance calls every endpoint, in success and error cases,
// and validates each live response against openapi.json; it checks too that
// every route is described, every described operation and status is
// exercised, and every query parameter sent is declared.
func TestOpenAPIConformance(t *testing.T) {
	t.Parallel()
	t.Run("fake store", func(t *testing.T) {
		t.Parallel()
		srv, _ := testServer(t)
		conformance(t, srv)
	})
	t.Run("real store", func(t *testing.T) {
		t.Parallel()
		conformance(t, realStoreServer(t))
	})
}

// stalledStore answers no read before its context ends, and refuses
// writes as a full disk does.
type stalledStore struct {
	store.Reader
	store.EventReader
}

func (stalledStore) Samples(ctx context.Context, _ store.Filter, _ store.ListOptions) ([]store.Sample, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (stalledStore) Meters(ctx context.Context, _ store.Filter, _ store.ListOptions) ([]store.Meter, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (stalledStore) Resources(ctx context.Context, _ store.Filter, _ store.ListOptions) ([]store.Resource, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (stalledStore) Statistics(ctx context.Context, _ store.StatsQuery) ([]store.Statistics, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (stalledStore) Events(ctx context.Context, _ store.EventFilter) ([]sample.Event, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// WriteAs answers as a full disk does.
func (stalledStore) WriteAs(context.Context, string, []sample.Sample) (store.WriteResult, error) {
	return store.WriteResult{}, fmt.Errorf("write samples: %w", store.ErrUnavailable)
}

// realStoreServer serves the fixture from the real embedded store, so the
// shapes it returns are checked too.
func realStoreServer(t testing.TB) *Server {
	t.Helper()
	// The fixture is dated around t0: the store's clock is too, so retention
	// (which runs at open) keeps it.
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{Logger: hclog.NewNullLogger(), Now: func() time.Time { return t0.Add(time.Hour) }})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	rows := fixture()
	smps := make([]sample.Sample, len(rows))
	for i := range rows {
		smps[i] = rows[i].Sample
	}
	require.NoError(t, st.Write(t.Context(), smps))
	require.NoError(t, st.WriteEvents(t.Context(), eventFixture()))
	return New(Options{Store: st, Writer: st, Events: st, Notifications: archiveFixture(t), Auth: testAuth, Cluster: fakeCluster{}, Tokens: fakeTokens{}, Alarms: testAlarms(t),
		Plugins: fakePlugins{{ID: "pollster.host.main", Name: "host", Kind: "pollster", Version: "1.0.0", State: "running", PID: 42, Since: t0},
			{ID: "publisher.http.out", Name: "http", Kind: "publisher", Version: "1.0.0", State: "running", PID: 43, Since: t0,
				Queue: &PluginQueue{Type: "disk", Samples: 3000, Bytes: 123456, OldestAgeSeconds: 12.5, MaxBytes: 1 << 30, Full: "block"}}}})
}

func conformance(t *testing.T, srv *Server) {
	var doc map[string]any
	require.NoError(t, json.Unmarshal(OpenAPI, &doc))
	require.Equal(t, "3.0.3", doc["openapi"])
	v := schemaValidator{doc}
	paths := doc["paths"].(map[string]any)

	rec := call(t, srv, "GET", "/v2/openapi.json", "", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, string(OpenAPI), rec.Body.String())

	// Every route is described.
	engine := srv.Handler().(*gin.Engine)
	for _, r := range engine.Routes() {
		p := pathParam.ReplaceAllString(r.Path, "{$1}")
		op, ok := paths[p].(map[string]any)
		require.True(t, ok, "route %s %s is not in openapi.json", r.Method, p)
		require.Contains(t, op, strings.ToLower(r.Method), "route %s %s is not in openapi.json", r.Method, p)
	}

	post := `[{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%","counter_volume":1,"resource_id":"r","resource_metadata":{"a":{"b":1}}}]`
	cases := []struct {
		method, path, target, token, body string
		code                              int
	}{
		{"GET", "/healthz", "/healthz", "", "", 200},
		{"GET", "/metrics", "/metrics", "", "", 200},
		{"GET", "/v2/openapi.json", "/v2/openapi.json", "", "", 200},
		{"GET", "/v2/plugins", "/v2/plugins", tokAdmin, "", 200},
		{"GET", "/v2/plugins", "/v2/plugins", "", "", 401},
		{"GET", "/v2/plugins", "/v2/plugins", tokA, "", 403},
		{"GET", "/v2/plugins/{id}", "/v2/plugins/pollster.host.main", tokAdmin, "", 200},
		{"GET", "/v2/plugins/{id}", "/v2/plugins/none", tokAdmin, "", 404},
		{"GET", "/v2/plugins/{id}", "/v2/plugins/pollster.host.main", "", "", 401},
		{"GET", "/v2/plugins/{id}", "/v2/plugins/pollster.host.main", tokB, "", 403},
		{"GET", "/v2/meters", "/v2/meters", tokAdmin, "", 200},
		{"GET", "/v2/meters", "/v2/meters?unique=1", tokA, "", 200},
		{"GET", "/v2/meters", "/v2/meters?limit=2&marker=" + url.QueryEscape("cmVzLWExK2NwdV91dGls"), tokAdmin, "", 200},
		{"GET", "/v2/meters", "/v2/meters?q.field=flavor", tokAdmin, "", 400},
		{"GET", "/v2/meters", "/v2/meters", "", "", 401},
		{"GET", "/v2/meters", "/v2/meters?q.field=project&q.op=eq&q.type=string&q.value=proj-b", tokA, "", 403},
		{"GET", "/v2/meters/{name}", "/v2/meters/cpu_util?q.field=timestamp&q.op=ge&q.type=datetime&q.value=2024-01-02T03:01:00", tokA, "", 200},
		{"GET", "/v2/meters/{name}", "/v2/meters/cpu_util?limit=-1", tokA, "", 400},
		{"GET", "/v2/meters/{name}", "/v2/meters/cpu_util", "x", "", 401},
		{"GET", "/v2/meters/{name}", "/v2/meters/cpu_util?q.field=project_id&q.value=proj-b", tokA, "", 403},
		{"POST", "/v2/meters/{name}", "/v2/meters/cpu_util?direct=true", tokA, post, 201},
		{"POST", "/v2/meters/{name}", "/v2/meters/cpu_util", tokA, `[{}]`, 400},
		{"POST", "/v2/meters/{name}", "/v2/meters/cpu_util", tokA, strings.Replace(post, `"r"`, `"res-b1"`, 1), 409},
		{"POST", "/v2/meters/{name}", "/v2/meters/cpu_util", "", post, 401},
		{"POST", "/v2/meters/{name}", "/v2/meters/cpu_util", tokNoProj, post, 403},
		{"POST", "/v2/meters/{name}", "/v2/meters/cpu_util", tokA, `["` + strings.Repeat("x", MaxBodyBytes) + `"]`, 413},
		{"GET", "/v2/meters/{name}/statistics", "/v2/meters/cpu_util/statistics", tokA, "", 200},
		{"GET", "/v2/meters/{name}/statistics", "/v2/meters/cpu_util/statistics?groupby=resource_id&period=60&aggregate.func=cardinality&aggregate.param=user_id&aggregate.func=avg", tokAdmin, "", 200},
		{"GET", "/v2/meters/{name}/statistics", "/v2/meters/nothing/statistics", tokAdmin, "", 200},
		{"GET", "/v2/meters/{name}/statistics", "/v2/meters/cpu_util/statistics?period=x", tokA, "", 400},
		{"GET", "/v2/meters/{name}/statistics", "/v2/meters/cpu_util/statistics", "", "", 401},
		{"GET", "/v2/meters/{name}/statistics", "/v2/meters/cpu_util/statistics?q.field=project_id&q.value=proj-a", tokB, "", 403},
		{"GET", "/v2/samples", "/v2/samples?limit=3", tokAdmin, "", 200},
		{"GET", "/v2/samples", "/v2/samples?q.field=metadata.flavor.name&q.op=eq&q.value=small&marker=a1-2", tokA, "", 200},
		{"GET", "/v2/samples", "/v2/samples?q.field=timestamp&q.op=eq&q.value=x", tokAdmin, "", 400},
		{"GET", "/v2/samples", "/v2/samples", "", "", 401},
		{"GET", "/v2/samples", "/v2/samples?q.field=project_id&q.value=proj-a", tokB, "", 403},
		{"GET", "/v2/samples/{id}", "/v2/samples/a1-0", tokA, "", 200},
		{"GET", "/v2/samples/{id}", "/v2/samples/a1-0", "", "", 401},
		{"GET", "/v2/samples/{id}", "/v2/samples/a1-0", tokB, "", 404},
		{"GET", "/v2/resources", "/v2/resources?meter_links=1&limit=5&marker=res-a0", tokA, "", 200},
		{"GET", "/v2/resources", "/v2/resources?q.field=resource&q.value=x&q.field=user&q.value=y&q.op=eq&q.op=ne", tokA, "", 400},
		{"GET", "/v2/resources", "/v2/resources", "", "", 401},
		{"GET", "/v2/resources", "/v2/resources?q.field=project_id&q.value=proj-b", tokA, "", 403},
		{"GET", "/v2/resources/{id}", "/v2/resources/res-b1", tokAdmin, "", 200},
		{"GET", "/v2/resources/{id}", "/v2/resources/res-b1", "", "", 401},
		{"GET", "/v2/resources/{id}", "/v2/resources/res-b1", tokA, "", 404},
		{"POST", "/v2/query/samples", "/v2/query/samples", tokA, `{"filter": "{\"and\": [{\"=\": {\"meter\": \"cpu_util\"}}, {\">\": {\"volume\": 10}}]}", "orderby": "[{\"timestamp\": \"asc\"}]", "limit": 10}`, 200},
		{"POST", "/v2/query/samples", "/v2/query/samples", tokA, `{"filter": "nope"}`, 400},
		{"POST", "/v2/query/samples", "/v2/query/samples", "", `{}`, 401},
		{"POST", "/v2/query/samples", "/v2/query/samples", tokA, `{"filter": "{\"=\": {\"project_id\": \"proj-b\"}}"}`, 403},
		{"POST", "/v2/query/samples", "/v2/query/samples", tokA, `{"filter": "` + strings.Repeat(" ", MaxBodyBytes) + `"}`, 413},
		{"GET", "/v2/capabilities", "/v2/capabilities", tokA, "", 200},
		{"GET", "/v2/capabilities", "/v2/capabilities", "", "", 401},
		{"GET", "/v2/events", "/v2/events", tokAdmin, "", 200},
		{"GET", "/v2/events", "/v2/events?q.field=event_type&q.op=eq&q.type=string&q.value=compute.*&q.field=memory_mb&q.op=ge&q.type=integer&q.value=512&limit=1&marker=ev-a1", tokA, "", 200},
		{"GET", "/v2/events", "/v2/events?q.field=start_timestamp&q.op=gt&q.type=datetime&q.value=2024-01-02T03:00:00&q.field=end_timestamp&q.op=le&q.type=&q.value=2024-01-02T03:04:00", tokB, "", 200},
		{"GET", "/v2/events", "/v2/events?q.field=memory_mb&q.type=integer&q.value=lots", tokA, "", 400},
		{"GET", "/v2/events", "/v2/events?sort=generated:desc&sort=message_id:asc&limit=2", tokAdmin, "", 200},
		{"GET", "/v2/events", "/v2/events?sort=generated:sideways", tokAdmin, "", 400},
		{"GET", "/v2/events", "/v2/events?q.field=all_tenants&q.value=false", tokAdminA, "", 200},
		{"GET", "/v2/events", "/v2/events?q.field=all_tenants&q.value=true", tokA, "", 403},
		{"GET", "/v2/events", "/v2/events", "", "", 401},
		{"GET", "/v2/events", "/v2/events?q.field=project_id&q.value=proj-b", tokA, "", 403},
		{"GET", "/v2/events/{message_id}", "/v2/events/ev-a1", tokA, "", 200},
		{"GET", "/v2/events/{message_id}", "/v2/events/ev-a1", "", "", 401},
		{"GET", "/v2/events/{message_id}", "/v2/events/ev-a1", tokB, "", 404},
		{"GET", "/v2/event_types", "/v2/event_types", tokAdmin, "", 200},
		{"GET", "/v2/event_types", "/v2/event_types?limit=1&marker=compute.instance.create.end", tokAdmin, "", 200},
		{"GET", "/v2/event_types", "/v2/event_types?limit=0", tokAdmin, "", 400},
		{"GET", "/v2/event_types", "/v2/event_types", "", "", 401},
		{"GET", "/v2/event_types/{event_type}/traits", "/v2/event_types/compute.instance.create.end/traits", tokA, "", 200},
		{"GET", "/v2/event_types/{event_type}/traits", "/v2/event_types//traits", tokA, "", 400},
		{"GET", "/v2/event_types/{event_type}/traits", "/v2/event_types/compute.instance.create.end/traits", "", "", 401},
		{"GET", "/v2/event_types/{event_type}/traits/{trait_name}", "/v2/event_types/compute.instance.create.end/traits/launched_at", tokAdmin, "", 200},
		{"GET", "/v2/event_types/{event_type}/traits/{trait_name}", "/v2/event_types/compute.instance.create.end/traits/disk_gb", tokA, "", 200},
		{"GET", "/v2/event_types/{event_type}/traits/{trait_name}", "/v2/event_types/none/traits/host", "", "", 401},
		{"GET", "/v2/event_types/{event_type}/traits/{trait_name}", "/v2/event_types//traits/host", tokAdmin, "", 400},
		// tokTimeout's requests go to a store that never answers before
		// query_timeout, and whose disk is full.
		{"GET", "/v2/meters", "/v2/meters", tokTimeout, "", 503},
		{"GET", "/v2/meters/{name}", "/v2/meters/cpu_util", tokTimeout, "", 503},
		{"POST", "/v2/meters/{name}", "/v2/meters/cpu_util", tokTimeout, post, 503},
		{"GET", "/v2/meters/{name}/statistics", "/v2/meters/cpu_util/statistics", tokTimeout, "", 503},
		{"GET", "/v2/samples", "/v2/samples", tokTimeout, "", 503},
		{"GET", "/v2/resources", "/v2/resources", tokTimeout, "", 503},
		{"POST", "/v2/query/samples", "/v2/query/samples", tokTimeout, `{}`, 503},
		{"GET", "/v2/events", "/v2/events", tokTimeout, "", 503},
	}
	exercised := map[string]bool{}
	cases = append(cases, clusterCases...)
	cases = append(cases, alarmCases...)
	cases = append(cases, notificationCases...)
	slow := New(Options{Store: stalledStore{}, Writer: stalledStore{}, Events: stalledStore{}, Auth: testAuth, Limits: Limits{QueryTimeout: time.Millisecond}})
	for _, tc := range cases {
		name := fmt.Sprintf("%s %s %d", tc.method, tc.target, tc.code)
		if len(name) > 120 {
			name = name[:120]
		}
		t.Run(name, func(t *testing.T) {
			sv := srv
			if tc.token == tokTimeout {
				sv = slow
			}
			rec := call(t, sv, tc.method, tc.target, tc.token, tc.body)
			require.Equal(t, tc.code, rec.Code, rec.Body.String())
			op, ok := paths[tc.path].(map[string]any)[strings.ToLower(tc.method)].(map[string]any)
			require.True(t, ok, "%s %s is not described", tc.method, tc.path)
			exercised[tc.method+" "+tc.path+" "+strconv.Itoa(tc.code)] = true

			u, err := url.Parse(tc.target)
			require.NoError(t, err)
			declared := map[string]bool{}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				ps, err := v.resolve(p.(map[string]any))
				require.NoError(t, err)
				declared[ps["name"].(string)] = true
			}
			for k := range u.Query() {
				require.True(t, declared[k], "query parameter %s of %s %s is not declared", k, tc.method, tc.path)
			}

			resp, ok := op["responses"].(map[string]any)[strconv.Itoa(tc.code)].(map[string]any)
			require.True(t, ok, "status %d of %s %s is not described", tc.code, tc.method, tc.path)
			content, _ := resp["content"].(map[string]any)
			if tc.code == http.StatusNoContent {
				require.Empty(t, content)
				require.Empty(t, rec.Body.String())
				return
			}
			require.NotEmpty(t, content)
			ctype, _, err := mime.ParseMediaType(rec.Header().Get("Content-Type"))
			require.NoError(t, err)
			media, ok := content[ctype].(map[string]any)
			require.True(t, ok, "content type %s of %s %s %d is not described", ctype, tc.method, tc.path, tc.code)
			if ctype != "application/json" {
				return
			}
			var val any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &val))
			require.NoError(t, v.validate(media["schema"].(map[string]any), val, "$"), rec.Body.String())
		})
	}
	// Every described operation and status is exercised above.
	var missing []string
	for p, ops := range paths {
		for m, op := range ops.(map[string]any) {
			for code := range op.(map[string]any)["responses"].(map[string]any) {
				k := strings.ToUpper(m) + " " + p + " " + code
				if !exercised[k] {
					missing = append(missing, k)
				}
			}
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "described but not exercised")
}
