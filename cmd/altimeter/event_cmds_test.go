package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/api"
	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/sample"
)

// Canned answers in Panko v2 shapes.
const (
	eventsJSON = `[
 {"message_id":"ev-1","event_type":"compute.instance.create.end","generated":"2026-11-22T06:35:42.123456","traits":[{"name":"host","type":"string","value":"h1"},{"name":"memory_mb","type":"integer","value":"512"}],"raw":{}},
 {"message_id":"ev-2","event_type":"image.upload","generated":"2026-11-22T06:36:00.000000","traits":[],"raw":{}}]`
	eventJSON = `{"message_id":"ev-1","event_type":"compute.instance.create.end","generated":"2026-11-22T06:35:42.123456",
 "traits":[{"name":"disk_gb","type":"float","value":"1.5"},{"name":"host","type":"string","value":"h1"},{"name":"launched_at","type":"datetime","value":"2026-11-22T06:35:00"}],
 "raw":{"payload":{"state":"active"}}}`
	eventTypesJSON = `["compute.instance.create.end","image.upload"]`
	traitDescsJSON = `[{"name":"host","type":"string"},{"name":"memory_mb","type":"integer"}]`
	traitsJSON     = `[{"name":"memory_mb","type":"integer","value":"512"},{"name":"memory_mb","type":"integer","value":"2048"}]`
)

// cannedEvents serves the canned event answers by escaped path and records
// the requests.
type cannedEvents struct {
	mu   sync.Mutex
	seen []request
}

func (c *cannedEvents) requests() []request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seen)
}

func (c *cannedEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.seen = append(c.seen, request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Token: r.Header.Get("X-Auth-Token")})
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	answers := map[string]string{
		"/v2/events":      eventsJSON,
		"/v2/events/ev-1": eventJSON,
		"/v2/event_types": eventTypesJSON,
		"/v2/event_types/compute.instance.create.end/traits":           traitDescsJSON,
		"/v2/event_types/compute.instance.create.end/traits/memory_mb": traitsJSON,
		"/v2/event_types/a%2Fb/traits/x%20y":                           `[]`,
	}
	a, ok := answers[r.URL.EscapedPath()]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error_message":{"faultcode":"Client","faultstring":"get event nope: not found"}}`)
		return
	}
	_, _ = io.WriteString(w, a)
}

func TestEventCommands(t *testing.T) {
	t.Parallel()
	canned := &cannedEvents{}
	srv := httptest.NewServer(canned)
	t.Cleanup(srv.Close)
	cases := []struct {
		name      string
		args      []string
		want      request
		wantOut   string
		wantErr   string
		noAPICall bool
	}{
		{
			name: "list",
			args: []string{"event", "list"},
			want: request{Method: "GET", Path: "/v2/events", Query: url.Values{}},
			wantOut: "" +
				"MESSAGE_ID  EVENT_TYPE                   GENERATED             TRAITS\n" +
				"ev-1        compute.instance.create.end  2026-11-22T06:35:42Z  host=h1,memory_mb=512\n" +
				"ev-2        image.upload                 2026-11-22T06:36:00Z  \n",
		},
		{
			name: "list with query and limit",
			args: []string{"event", "list", "-q", "event_type=compute.*;start_timestamp>=2026-11-22T00:00:00;memory_mb>integer::1024", "-l", "5"},
			want: request{Method: "GET", Path: "/v2/events", Query: q(
				"q.field", "event_type", "q.field", "start_timestamp", "q.field", "memory_mb",
				"q.op", "eq", "q.op", "ge", "q.op", "gt",
				"q.type", "", "q.type", "", "q.type", "integer",
				"q.value", "compute.*", "q.value", "2026-11-22T00:00:00", "q.value", "1024", "limit", "5")},
		},
		{
			name: "show has one trait a line",
			args: []string{"event", "show", "ev-1"},
			want: request{Method: "GET", Path: "/v2/events/ev-1"},
			wantOut: "" +
				"message_id          ev-1\n" +
				"event_type          compute.instance.create.end\n" +
				"generated           2026-11-22T06:35:42Z\n" +
				"raw                 {\"payload\":{\"state\":\"active\"}}\n" +
				"traits.disk_gb      1.5 (float)\n" +
				"traits.host         h1 (string)\n" +
				"traits.launched_at  2026-11-22T06:35:00 (datetime)\n",
		},
		{
			name:    "show unknown",
			args:    []string{"event", "show", "nope"},
			want:    request{Method: "GET", Path: "/v2/events/nope"},
			wantErr: "altimeter: HTTP 404 Not Found: get event nope: not found\n",
		},
		{
			name: "show as json",
			args: []string{"event", "show", "ev-1", "-o", "json"},
			want: request{Method: "GET", Path: "/v2/events/ev-1"},
			wantOut: func() string {
				var b bytes.Buffer
				_ = json.Indent(&b, []byte(eventJSON), "", "  ")
				return b.String() + "\n"
			}(),
		},
		{
			name:    "type list",
			args:    []string{"event", "type", "list"},
			want:    request{Method: "GET", Path: "/v2/event_types"},
			wantOut: "EVENT_TYPE\ncompute.instance.create.end\nimage.upload\n",
		},
		{
			name:    "type list as json",
			args:    []string{"event", "type", "list", "-o", "json"},
			want:    request{Method: "GET", Path: "/v2/event_types"},
			wantOut: "[\n  \"compute.instance.create.end\",\n  \"image.upload\"\n]\n",
		},
		{
			name:    "type list, a page",
			args:    []string{"event", "type", "list", "-l", "2", "--marker", "compute.instance.create.end"},
			want:    request{Method: "GET", Path: "/v2/event_types", Query: url.Values{"limit": {"2"}, "marker": {"compute.instance.create.end"}}},
			wantOut: "EVENT_TYPE\ncompute.instance.create.end\nimage.upload\n",
		},
		{
			name:    "trait descriptions, a page",
			args:    []string{"event", "trait", "list", "-e", "compute.instance.create.end", "-l", "5", "--marker", "host"},
			want:    request{Method: "GET", Path: "/v2/event_types/compute.instance.create.end/traits", Query: url.Values{"limit": {"5"}, "marker": {"host"}}},
			wantOut: "NAME       TYPE\nhost       string\nmemory_mb  integer\n",
		},
		{name: "type list, bad limit", args: []string{"event", "type", "list", "-l", "-2"}, wantErr: "bad --limit -2", noAPICall: true},
		{
			name:    "trait descriptions",
			args:    []string{"event", "trait", "list", "-e", "compute.instance.create.end"},
			want:    request{Method: "GET", Path: "/v2/event_types/compute.instance.create.end/traits"},
			wantOut: "NAME       TYPE\nhost       string\nmemory_mb  integer\n",
		},
		{
			name:    "trait values",
			args:    []string{"event", "trait", "list", "--event-type", "compute.instance.create.end", "-t", "memory_mb"},
			want:    request{Method: "GET", Path: "/v2/event_types/compute.instance.create.end/traits/memory_mb"},
			wantOut: "NAME       TYPE     VALUE\nmemory_mb  integer  512\nmemory_mb  integer  2048\n",
		},
		{
			name:    "names are escaped",
			args:    []string{"event", "trait", "list", "-e", "a/b", "-trait-name", "x y"},
			want:    request{Method: "GET", Path: "/v2/event_types/a%2Fb/traits/x%20y"},
			wantOut: "NAME  TYPE  VALUE\n",
		},
		{name: "trait list needs a type", args: []string{"event", "trait", "list"}, wantErr: `required flag(s) "event-type" not set`, noAPICall: true},
		{name: "empty type", args: []string{"event", "trait", "list", "-e", ""}, wantErr: "bad --event-type: empty", noAPICall: true},
		{name: "empty trait", args: []string{"event", "trait", "list", "-e", "x", "-t", ""}, wantErr: "bad --trait-name: empty", noAPICall: true},
		{name: "show needs an ID", args: []string{"event", "show"}, wantErr: "want one event message ID, got 0 arguments", noAPICall: true},
		{name: "bad query", args: []string{"event", "list", "-q", "event_type"}, wantErr: `bad query term "event_type": missing operator`, noAPICall: true},
		{name: "bad limit", args: []string{"event", "list", "-l", "-1"}, wantErr: "bad --limit -1", noAPICall: true},
		{name: "bad output", args: []string{"event", "type", "list", "-o", "xml"}, wantErr: `bad --output "xml"`, noAPICall: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Sequential: cases read the last request.
			before := len(canned.requests())
			out, errOut, code := runCLI(append(append([]string{}, tc.args...), "--url", srv.URL, "--token", testToken)...)
			if tc.wantErr != "" {
				require.Equal(t, 1, code, "stdout: %s", out)
				require.Contains(t, errOut, tc.wantErr)
			} else {
				require.Equal(t, 0, code, "stderr: %s", errOut)
			}
			if tc.noAPICall {
				require.Len(t, canned.requests(), before, "the CLI called the API despite bad input")
				return
			}
			seen := canned.requests()
			require.Len(t, seen, before+1)
			got := seen[len(seen)-1]
			want := tc.want
			want.Token = testToken
			if want.Query == nil {
				want.Query = url.Values{}
			}
			require.Empty(t, cmp.Diff(want, got))
			if tc.wantOut != "" {
				require.Equal(t, tc.wantOut, out)
			}
		})
	}
}

// TestEventCommandsAgainstTheAPI runs the event commands against the real
// API over the real store and token store: an admin sees every event, a
// member only its project's, and errors come back as the API's messages.
func TestEventCommandsAgainstTheAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, dir+"/store", store.Options{Logger: hclog.NewNullLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	gen := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	text := func(n, v string) sample.Trait { return sample.Trait{Name: n, Type: sample.TraitText, Text: v} }
	require.NoError(t, st.WriteEvents(ctx, []sample.Event{
		{MessageID: "ev-a", EventType: "compute.instance.create.end", Generated: gen, Traits: []sample.Trait{
			text("project_id", "p-a"), text("host", "h1"), {Name: "memory_mb", Type: sample.TraitInt, Int: 512},
		}, Raw: []byte(`{"payload":{"host":"h1"}}`)},
		{MessageID: "ev-b", EventType: "compute.instance.create.end", Generated: gen.Add(time.Second), Traits: []sample.Trait{
			text("tenant_id", "p-b"), text("host", "h2"), {Name: "memory_mb", Type: sample.TraitInt, Int: 2048},
		}},
		{MessageID: "ev-b2", EventType: "image.upload", Generated: gen.Add(2 * time.Second), Traits: []sample.Trait{
			text("project_id", "p-b"),
		}},
	}))
	tokens, err := auth.Open(dir+"/data", hclog.NewNullLogger())
	require.NoError(t, err)
	member, _, err := tokens.Create(ctx, "p-a", auth.RoleMember)
	require.NoError(t, err)
	srv := httptest.NewServer(api.New(api.Options{Events: st, Auth: tokens}).Handler())
	t.Cleanup(srv.Close)

	cli := func(token string, args ...string) (string, string, int) {
		if token == "" {
			return runCLI(append(args, "--url", srv.URL, "--data-dir", dir+"/data")...)
		}
		return runCLI(append(args, "--url", srv.URL, "--token", token)...)
	}
	out, errOut, code := cli("", "event", "list")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, ""+
		"MESSAGE_ID  EVENT_TYPE                   GENERATED             TRAITS\n"+
		"ev-a        compute.instance.create.end  2026-11-22T06:00:00Z  host=h1,memory_mb=512,project_id=p-a\n"+
		"ev-b        compute.instance.create.end  2026-11-22T06:00:01Z  host=h2,memory_mb=2048,tenant_id=p-b\n"+
		"ev-b2       image.upload                 2026-11-22T06:00:02Z  project_id=p-b\n", out)

	out, errOut, code = cli("", "event", "list", "-q", "memory_mb>=integer::1024", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var evs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &evs))
	require.Len(t, evs, 1)
	require.Equal(t, "ev-b", evs[0]["message_id"])

	out, errOut, code = cli(member, "event", "list")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "ev-a ")
	require.NotContains(t, out, "ev-b")

	out, errOut, code = cli(member, "event", "show", "ev-a")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, ""+
		"message_id         ev-a\n"+
		"event_type         compute.instance.create.end\n"+
		"generated          2026-11-22T06:00:00Z\n"+
		"raw                {\"payload\":{\"host\":\"h1\"}}\n"+
		"traits.host        h1 (string)\n"+
		"traits.memory_mb   512 (integer)\n"+
		"traits.project_id  p-a (string)\n", out)

	_, errOut, code = cli(member, "event", "show", "ev-b")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "HTTP 404 Not Found: get event ev-b")

	_, errOut, code = cli(member, "event", "list", "-q", "tenant_id=p-b")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "HTTP 403 Forbidden: forbidden: project p-b is not yours")

	_, errOut, code = cli(member, "event", "list", "-q", "memory_mb>integer::lots")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `HTTP 400 Bad Request: bad request: field memory_mb: unable to convert "lots" to integer`)

	out, errOut, code = cli("", "event", "type", "list")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "EVENT_TYPE\ncompute.instance.create.end\nimage.upload\n", out)
	out, errOut, code = cli(member, "event", "type", "list")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "EVENT_TYPE\ncompute.instance.create.end\n", out)

	out, errOut, code = cli(member, "event", "trait", "list", "-e", "compute.instance.create.end")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "NAME        TYPE\nhost        string\nmemory_mb   integer\nproject_id  string\n", out)
	out, errOut, code = cli("", "event", "trait", "list", "-e", "compute.instance.create.end", "-t", "host")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "NAME  TYPE    VALUE\nhost  string  h1\nhost  string  h2\n", out)
	out, errOut, code = cli(member, "event", "trait", "list", "-e", "compute.instance.create.end", "-t", "host")
	require.Equal(t, 0, code, errOut)
	require.True(t, strings.HasSuffix(out, "host  string  h1\n"), out)
	require.NotContains(t, out, "h2")
}
