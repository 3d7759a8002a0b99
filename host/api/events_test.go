package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/sdk/sample"
)

// eventServers are the servers the event tests run against: the fake event
// store and the real embedded store, both holding eventFixture, so the
// fake's semantics are checked against the store's too.
func eventServers(t *testing.T) map[string]*Server {
	t.Helper()
	srv, _ := testServer(t)
	return map[string]*Server{"fake": srv, "real": realStoreServer(t)}
}

// The fixture's events, oldest first, by scope.
var (
	allEvents = []string{"ev-a1", "ev-b1", "ev-a2", "ev-a3", "ev-b2", "ev-x1"}
	aEvents   = []string{"ev-a1", "ev-a2", "ev-a3"}
	bEvents   = []string{"ev-b1", "ev-b2"}
)

func ids(t *testing.T, body []byte) []string {
	t.Helper()
	return strs(decodeList(t, body), "message_id")
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, token, query string
		want               []string
	}{
		{"admin sees every event", tokAdmin, "", allEvents},
		{"member A sees A's, also through tenant_id", tokA, "", aEvents},
		{"member B sees B's", tokB, "", bEvents},
		{"event_type exact", tokAdmin, qs("q.field", "event_type", "q.value", evCreate), []string{"ev-a1", "ev-b1", "ev-a2"}},
		{"event_type glob", tokAdmin, qs("q.field", "event_type", "q.op", "eq", "q.value", "compute.*"), []string{"ev-a1", "ev-b1", "ev-a2", "ev-a3"}},
		{"event_type glob scoped", tokA, qs("q.field", "event_type", "q.value", "*.end"), aEvents},
		{"event_type of another project", tokA, qs("q.field", "event_type", "q.value", evImage), []string{}},
		{"message_id", tokAdmin, qs("q.field", "message_id", "q.value", "ev-b2"), []string{"ev-b2"}},
		{"message_id of another project", tokA, qs("q.field", "message_id", "q.value", "ev-b2"), []string{}},
		{"start_timestamp eq is ge", tokAdmin, qs("q.field", "start_timestamp", "q.value", "2024-01-02T03:02:00.000250"), []string{"ev-a2", "ev-a3", "ev-b2", "ev-x1"}},
		{"start_timestamp ge", tokAdmin, qs("q.field", "start_timestamp", "q.op", "ge", "q.type", "datetime", "q.value", "2024-01-02T03:02:00.000250"), []string{"ev-a2", "ev-a3", "ev-b2", "ev-x1"}},
		{"start_timestamp gt", tokAdmin, qs("q.field", "start_timestamp", "q.op", "gt", "q.value", "2024-01-02T03:02:00.000250"), []string{"ev-a3", "ev-b2", "ev-x1"}},
		{"end_timestamp eq is le", tokAdmin, qs("q.field", "end_timestamp", "q.value", "2024-01-02T03:01:00.000250+00:00"), []string{"ev-a1", "ev-b1"}},
		{"end_timestamp le", tokAdmin, qs("q.field", "end_timestamp", "q.op", "le", "q.value", "2024-01-02T03:01:00.000250"), []string{"ev-a1", "ev-b1"}},
		{"end_timestamp lt", tokAdmin, qs("q.field", "end_timestamp", "q.op", "lt", "q.value", "2024-01-02T03:01:00.000250"), []string{"ev-a1"}},
		{"type and range", tokAdmin, qs("q.field", "event_type", "q.value", evCreate, "q.field", "start_timestamp", "q.value", "2024-01-02T03:01:00", "q.field", "end_timestamp", "q.value", "2024-01-02T03:03:00"), []string{"ev-b1", "ev-a2"}},
		{"string trait by default", tokAdmin, qs("q.field", "host", "q.value", "h1"), []string{"ev-a1"}},
		{"string trait ne skips events without it", tokAdmin, qs("q.field", "host", "q.op", "ne", "q.type", "string", "q.value", "h1"), []string{"ev-b1", "ev-a2"}},
		{"integer trait ge", tokAdmin, qs("q.field", "memory_mb", "q.op", "ge", "q.type", "integer", "q.value", "2048"), []string{"ev-b1", "ev-a2"}},
		{"integer trait gt scoped", tokA, qs("q.field", "memory_mb", "q.op", "gt", "q.type", "integer", "q.value", " 512 "), []string{"ev-a2"}},
		{"float trait le", tokAdmin, qs("q.field", "disk_gb", "q.op", "le", "q.type", "float", "q.value", "20"), []string{"ev-a1", "ev-a2"}},
		{"float trait lt", tokAdmin, qs("q.field", "disk_gb", "q.op", "lt", "q.type", "float", "q.value", "2e1"), []string{"ev-a1"}},
		{"datetime trait ge", tokAdmin, qs("q.field", "launched_at", "q.op", "ge", "q.type", "datetime", "q.value", "2024-01-02T03:01:00"), []string{"ev-b1", "ev-a2"}},
		{"datetime trait eq with microseconds", tokAdmin, qs("q.field", "launched_at", "q.type", "datetime", "q.value", "2024-01-02 03:02:00.123456"), []string{"ev-a2"}},
		{"a trait matches its type only", tokAdmin, qs("q.field", "memory_mb", "q.value", "512"), []string{}},
		{"two traits", tokAdmin, qs("q.field", "instance_id", "q.value", "vm-1", "q.field", "state", "q.value", "deleted"), []string{"ev-a3"}},
		{"own project_id", tokA, qs("q.field", "project_id", "q.value", projectA), []string{"ev-a1", "ev-a3"}},
		{"own tenant_id", tokA, qs("q.field", "tenant_id", "q.value", projectA), []string{"ev-a2"}},
		{"admin names a project", tokAdmin, qs("q.field", "project_id", "q.value", projectB), bEvents},
		{"projectless event hidden from members", tokA, qs("q.field", "outcome", "q.value", "success"), []string{}},
		{"projectless event shown to admin", tokAdmin, qs("q.field", "outcome", "q.value", "success"), []string{"ev-x1"}},
		{"end before the store's range", tokAdmin, qs("q.field", "end_timestamp", "q.op", "lt", "q.value", "0001-01-01T00:00:00"), []string{}},
		{"start before the store's range", tokAdmin, qs("q.field", "start_timestamp", "q.value", "0001-01-01T00:00:00"), allEvents},
		{"start after the store's range", tokAdmin, qs("q.field", "start_timestamp", "q.value", "9999-12-31T23:59:59"), []string{}},
		{"limit", tokAdmin, "?limit=2", []string{"ev-a1", "ev-b1"}},
		{"marker", tokAdmin, "?marker=ev-a3", []string{"ev-b2", "ev-x1"}},
		{"marker and limit scoped", tokB, "?marker=ev-b1&limit=5", []string{"ev-b2"}},

		// Panko's sort (issue 15 item 2): generated and message_id, asc or
		// desc (asc when left out), repeated or comma-separated; message_id
		// asc breaks ties when not given (ev-a3 and ev-b2 share a time).
		{"sort generated:asc is the default", tokAdmin, "?sort=generated:asc", allEvents},
		{"sort without a direction is asc", tokAdmin, "?sort=generated", allEvents},
		{"sort default spelled out", tokAdmin, "?sort=generated:asc,message_id:asc", allEvents},
		{"sort generated:desc", tokAdmin, "?sort=generated:desc", []string{"ev-x1", "ev-a3", "ev-b2", "ev-a2", "ev-b1", "ev-a1"}},
		{"sort generated:desc,message_id:desc", tokAdmin, "?sort=generated:desc,message_id:desc", []string{"ev-x1", "ev-b2", "ev-a3", "ev-a2", "ev-b1", "ev-a1"}},
		{"sort repeated", tokAdmin, "?sort=generated:desc&sort=message_id:desc", []string{"ev-x1", "ev-b2", "ev-a3", "ev-a2", "ev-b1", "ev-a1"}},
		{"sort message_id", tokAdmin, "?sort=message_id", []string{"ev-a1", "ev-a2", "ev-a3", "ev-b1", "ev-b2", "ev-x1"}},
		{"sort message_id:desc", tokAdmin, "?sort=message_id:desc", []string{"ev-x1", "ev-b2", "ev-b1", "ev-a3", "ev-a2", "ev-a1"}},
		{"sort message_id then generated", tokAdmin, "?sort=message_id:desc,generated:asc", []string{"ev-x1", "ev-b2", "ev-b1", "ev-a3", "ev-a2", "ev-a1"}},
		{"sort key again is ignored, as in Panko's SQL", tokAdmin, "?sort=generated:asc&sort=generated:desc", allEvents},
		{"sort scoped", tokA, "?sort=generated:desc", []string{"ev-a3", "ev-a2", "ev-a1"}},
		{"sort with limit", tokAdmin, "?sort=generated:desc&limit=2", []string{"ev-x1", "ev-a3"}},
		{"sort with marker resumes in that order", tokAdmin, "?sort=generated:desc&marker=ev-a3", []string{"ev-b2", "ev-a2", "ev-b1", "ev-a1"}},
		// Panko's all_tenants (issue 15 item 4) is the admin switch, not a
		// trait filter. An admin sees every project without it, as
		// everywhere in Altimeter; all_tenants=false is Panko's admin view
		// (the token's project and the events of none).
		{"admin, all_tenants=true", tokAdmin, qs("q.field", "all_tenants", "q.value", "true"), allEvents},
		{"admin of A, all_tenants=True", tokAdminA, qs("q.field", "all_tenants", "q.op", "eq", "q.value", "True"), allEvents},
		{"admin of A, no switch", tokAdminA, "", allEvents},
		{"admin of A, all_tenants=false", tokAdminA, qs("q.field", "all_tenants", "q.value", "false"), []string{"ev-a1", "ev-a2", "ev-a3", "ev-x1"}},
		{"admin of A, all_tenants=0 with a filter", tokAdminA, qs("q.field", "event_type", "q.value", evCreate, "q.field", "all_tenants", "q.value", "0"), []string{"ev-a1", "ev-a2"}},
		{"admin without a project, all_tenants=false", tokAdmin, qs("q.field", "all_tenants", "q.value", "no"), allEvents},
		{"admin, all_tenants with other typed filters", tokAdmin, qs("q.field", "memory_mb", "q.op", "ge", "q.type", "integer", "q.value", "2048", "q.field", "all_tenants", "q.op", "eq", "q.type", "", "q.value", "yes"), []string{"ev-b1", "ev-a2"}},
		{"member, all_tenants=false is ignored", tokA, qs("q.field", "all_tenants", "q.value", "false"), aEvents},
		{"sort with filter", tokAdmin, qs("q.field", "event_type", "q.value", evCreate, "sort", "message_id:desc"), []string{"ev-b1", "ev-a2", "ev-a1"}},
	}
	for name, srv := range eventServers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					rec := call(t, srv, "GET", "/v2/events"+tc.query, tc.token, "")
					require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
					require.Equal(t, tc.want, ids(t, rec.Body.Bytes()))
				})
			}
		})
	}
}

func TestListEventsErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, token, query string
		code               int
		want               string
	}{
		{"event_type takes eq only", tokAdmin, qs("q.field", "event_type", "q.op", "ne", "q.value", "x"), 400, "field event_type: operator ne is not supported"},
		{"message_id takes eq only", tokAdmin, qs("q.field", "message_id", "q.op", "gt", "q.value", "x"), 400, "field message_id: operator gt is not supported"},
		{"start_timestamp takes no upper bound", tokAdmin, qs("q.field", "start_timestamp", "q.op", "lt", "q.value", "2024-01-01T00:00:00"), 400, "field start_timestamp: operator lt"},
		{"end_timestamp takes no lower bound", tokAdmin, qs("q.field", "end_timestamp", "q.op", "ge", "q.value", "2024-01-01T00:00:00"), 400, "field end_timestamp: operator ge"},
		{"bad start_timestamp", tokAdmin, qs("q.field", "start_timestamp", "q.value", "yesterday"), 400, "field start_timestamp"},
		{"start_timestamp typed integer", tokAdmin, qs("q.field", "start_timestamp", "q.type", "integer", "q.value", "1"), 400, `field start_timestamp: type "integer"`},
		{"event_type typed float", tokAdmin, qs("q.field", "event_type", "q.type", "float", "q.value", "1"), 400, `field event_type: type "float"`},
		{"event_type twice", tokAdmin, qs("q.field", "event_type", "q.value", "a", "q.field", "event_type", "q.value", "b"), 400, "field event_type is given more than once"},
		{"empty event_type", tokAdmin, qs("q.field", "event_type", "q.value", ""), 400, "field event_type: empty value"},
		{"empty field", tokAdmin, qs("q.field", "", "q.value", "x"), 400, "q.field 1 is empty"},
		{"unknown operator", tokAdmin, qs("q.field", "host", "q.op", "like", "q.value", "x"), 400, `field host: unknown operator "like"`},
		{"boolean traits do not exist", tokAdmin, qs("q.field", "on", "q.type", "boolean", "q.value", "true"), 400, `field on: type "boolean" is not supported`},
		{"bad integer", tokAdmin, qs("q.field", "memory_mb", "q.type", "integer", "q.value", "1.5"), 400, `field memory_mb: unable to convert "1.5" to integer`},
		{"integer overflow", tokAdmin, qs("q.field", "memory_mb", "q.type", "integer", "q.value", "99999999999999999999"), 400, "field memory_mb"},
		{"NaN float", tokAdmin, qs("q.field", "disk_gb", "q.type", "float", "q.value", "NaN"), 400, "field disk_gb: unable to convert"},
		{"infinite float", tokAdmin, qs("q.field", "disk_gb", "q.type", "float", "q.value", "1e999"), 400, "field disk_gb"},
		{"bad datetime", tokAdmin, qs("q.field", "launched_at", "q.type", "datetime", "q.value", "soon"), 400, "field launched_at"},
		{"datetime out of range", tokAdmin, qs("q.field", "launched_at", "q.type", "datetime", "q.value", "3000-01-01T00:00:00"), 400, "field launched_at: 3000-01-01T00:00:00 is outside"},
		{"more fields than values", tokAdmin, "?q.field=a&q.field=b&q.value=1", 400, "2 q.field but 1 q.value"},
		{"ops not paired", tokAdmin, "?q.field=a&q.field=b&q.value=1&q.value=2&q.op=eq", 400, "2 q.field but 1 q.op"},
		{"types not paired", tokAdmin, "?q.field=a&q.value=1&q.type=string&q.type=string", 400, "1 q.field but 2 q.type"},
		{"unknown q parameter", tokAdmin, "?q.fields=a", 400, "unknown query parameter q.fields"},
		{"sort by an unknown key", tokAdmin, "?sort=event_type:asc", 400, "Invalid input for field/attribute sort. Value: 'event_type:asc'. Unknown sort key; one of message_id, generated."},
		{"sort by a trait", tokAdmin, "?sort=project_id", 400, "field/attribute sort"},
		{"sort by a bad direction", tokAdmin, "?sort=generated:up", 400, "Invalid input for field/attribute sort. Value: 'generated:up'. Sort direction must be asc or desc."},
		{"sort direction is lower case", tokAdmin, "?sort=generated:DESC", 400, "field/attribute sort"},
		{"sort empty", tokAdmin, "?sort=", 400, "field/attribute sort"},
		{"sort with an empty item", tokAdmin, "?sort=generated:asc,", 400, "field/attribute sort"},
		{"sort key with spaces", tokAdmin, "?sort=+generated", 400, "field/attribute sort"},
		{"sort, too many keys", tokAdmin, "?sort=generated,generated,generated&sort=message_id,message_id", 400, "sort: more than 4 keys"},
		{"sort, hostile", tokAdmin, "?sort=" + strings.Repeat("generated,", 10000), 400, "sort: more than 4 keys"},
		{"zero limit", tokAdmin, "?limit=0", 400, "limit must be a positive integer"},
		{"bad limit", tokA, "?limit=ten", 400, "limit must be a positive integer"},
		{"unknown marker", tokAdmin, "?marker=nope", 400, "unknown marker"},
		{"unknown marker, member", tokA, "?marker=nope", 400, "marker: unknown event nope"},
		{"marker of another project", tokA, "?marker=ev-b1", 400, "marker: unknown event ev-b1"},
		{"marker of no project", tokB, "?marker=ev-x1", 400, "marker: unknown event ev-x1"},
		{"member asking for all_tenants", tokA, qs("q.field", "all_tenants", "q.value", "true"), 403, "field all_tenants: only an admin may list every project's events"},
		{"all_tenants not a boolean", tokAdmin, qs("q.field", "all_tenants", "q.value", "everyone"), 400, `field all_tenants: "everyone" is not a boolean`},
		{"all_tenants with ne", tokAdmin, qs("q.field", "all_tenants", "q.op", "ne", "q.value", "true"), 400, "field all_tenants: operator ne is not supported"},
		{"all_tenants typed integer", tokAdmin, qs("q.field", "all_tenants", "q.type", "integer", "q.value", "1"), 400, `field all_tenants: type "integer"`},
		{"all_tenants twice", tokAdmin, qs("q.field", "all_tenants", "q.value", "true", "q.field", "all_tenants", "q.value", "false"), 400, "field all_tenants is given more than once"},
		{"all_tenants unpaired", tokAdmin, "?q.field=all_tenants&q.field=x&q.value=true", 400, "2 q.field but 1 q.value"},
		{"another project_id", tokA, qs("q.field", "project_id", "q.value", projectB), 403, "project proj-b is not yours"},
		{"another tenant_id", tokA, qs("q.field", "tenant_id", "q.value", projectB), 403, "project proj-b is not yours"},
		{"another project with ne", tokA, qs("q.field", "project_id", "q.op", "ne", "q.value", projectB), 403, "project proj-b is not yours"},
		{"B naming A", tokB, qs("q.field", "event_type", "q.value", evCreate, "q.field", "project_id", "q.value", projectA), 403, "project proj-a is not yours"},
	}
	for name, srv := range eventServers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					requireError(t, call(t, srv, "GET", "/v2/events"+tc.query, tc.token, ""), tc.code, tc.want)
				})
			}
		})
	}
}

// TestEventPagination walks every scope page by page with limit and marker
// and gets each event once, in order.
func TestEventPagination(t *testing.T) {
	t.Parallel()
	for name, srv := range eventServers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, sc := range []struct {
				token, sort string
				want        []string
			}{
				{tokAdmin, "", allEvents}, {tokA, "", aEvents}, {tokB, "", bEvents},
				{tokAdmin, "generated:desc", []string{"ev-x1", "ev-a3", "ev-b2", "ev-a2", "ev-b1", "ev-a1"}},
				{tokAdmin, "generated:desc,message_id:desc", []string{"ev-x1", "ev-b2", "ev-a3", "ev-a2", "ev-b1", "ev-a1"}},
				{tokAdmin, "message_id:desc", []string{"ev-x1", "ev-b2", "ev-b1", "ev-a3", "ev-a2", "ev-a1"}},
				{tokB, "generated:desc", []string{"ev-b2", "ev-b1"}},
			} {
				for _, limit := range []int{1, 2, 4} {
					var got []string
					marker := ""
					for pages := 0; ; pages++ {
						require.Less(t, pages, 10, "pagination does not end")
						target := "/v2/events?limit=" + strconv.Itoa(limit)
						if sc.sort != "" {
							target += "&sort=" + sc.sort
						}
						if marker != "" {
							target += "&marker=" + url.QueryEscape(marker)
						}
						rec := call(t, srv, "GET", target, sc.token, "")
						require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
						page := ids(t, rec.Body.Bytes())
						require.LessOrEqual(t, len(page), limit)
						if len(page) == 0 {
							break
						}
						got = append(got, page...)
						marker = page[len(page)-1]
					}
					require.Equal(t, sc.want, got, "%s sort %q limit %d", sc.token, sc.sort, limit)
				}
			}
		})
	}
}

func TestGetEvent(t *testing.T) {
	t.Parallel()
	a1 := `{"message_id": "ev-a1", "event_type": "compute.instance.create.end", "generated": "2024-01-02T03:00:00.000250",
		"traits": [
			{"name": "disk_gb", "type": "float", "value": "1.5"},
			{"name": "host", "type": "string", "value": "h1"},
			{"name": "instance_id", "type": "string", "value": "vm-1"},
			{"name": "launched_at", "type": "datetime", "value": "2024-01-02T03:00:00"},
			{"name": "memory_mb", "type": "integer", "value": "512"},
			{"name": "project_id", "type": "string", "value": "proj-a"}],
		"raw": {"event_type": "compute.instance.create.end", "payload": {"instance_id": "vm-1"}}}`
	b1 := `{"message_id": "ev-b1", "event_type": "compute.instance.create.end", "generated": "2024-01-02T03:01:00.000250",
		"traits": [
			{"name": "disk_gb", "type": "float", "value": "80.0"},
			{"name": "host", "type": "string", "value": "h9"},
			{"name": "instance_id", "type": "string", "value": "vm-9"},
			{"name": "launched_at", "type": "datetime", "value": "2024-01-02T03:01:00"},
			{"name": "memory_mb", "type": "integer", "value": "4096"},
			{"name": "project_id", "type": "string", "value": "proj-b"}],
		"raw": {}}`
	for name, srv := range eventServers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name, token, id string
				code            int
				want            string // the JSON answer, when given
			}{
				{"own event with raw", tokA, "ev-a1", 200, a1},
				{"admin, no raw kept", tokAdmin, "ev-b1", 200, b1},
				{"own event through tenant_id", tokA, "ev-a2", 200, ""},
				{"projectless event, admin", tokAdmin, "ev-x1", 200, ""},
				{"other project's event", tokA, "ev-b1", 404, ""},
				{"other project's event through tenant_id", tokB, "ev-a2", 404, ""},
				{"projectless event, member", tokB, "ev-x1", 404, ""},
				{"absent", tokAdmin, "nope", 404, ""},
				{"escaped id", tokAdmin, "a/b c", 404, ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					rec := call(t, srv, "GET", "/v2/events/"+url.PathEscape(tc.id), tc.token, "")
					if tc.code == http.StatusNotFound {
						requireError(t, rec, http.StatusNotFound, "event "+tc.id)
						return
					}
					require.Equal(t, tc.code, rec.Code, rec.Body.String())
					require.Equal(t, tc.id, decodeObject(t, rec.Body.Bytes())["message_id"])
					if tc.want != "" {
						require.JSONEq(t, tc.want, rec.Body.String())
					}
				})
			}
		})
	}
}

func TestEventTypesAndTraits(t *testing.T) {
	t.Parallel()
	type desc = map[string]any
	d := func(name, typ string) desc { return desc{"name": name, "type": typ} }
	v := func(name, typ, value string) desc { return desc{"name": name, "type": typ, "value": value} }
	createDescs := []desc{
		d("disk_gb", "float"), d("host", "string"), d("instance_id", "string"), d("launched_at", "datetime"),
		d("memory_mb", "integer"), d("project_id", "string"), d("tenant_id", "string"),
	}
	cases := []struct {
		name, token, target string
		want                any
	}{
		{"types, admin", tokAdmin, "/v2/event_types", []any{evCreate, evDelete, "identity.authenticate", evImage}},
		{"types, A", tokA, "/v2/event_types", []any{evCreate, evDelete}},
		{"types, B", tokB, "/v2/event_types", []any{evCreate, evImage}},
		{"descriptions, admin", tokAdmin, "/v2/event_types/" + evCreate + "/traits", createDescs},
		{"descriptions, A (project_id and tenant_id events)", tokA, "/v2/event_types/" + evCreate + "/traits", createDescs},
		{"descriptions, B", tokB, "/v2/event_types/" + evCreate + "/traits", createDescs[:6]},
		{"descriptions of another project's type", tokA, "/v2/event_types/" + evImage + "/traits", []desc{}},
		{"descriptions of own type", tokB, "/v2/event_types/" + evImage + "/traits", []desc{d("image_id", "string"), d("project_id", "string"), d("size", "integer")}},
		{"descriptions of an unknown type", tokAdmin, "/v2/event_types/nope/traits", []desc{}},
		{"a type is not a glob here", tokAdmin, "/v2/event_types/compute.*/traits", []desc{}},
		{"integer values, admin", tokAdmin, "/v2/event_types/" + evCreate + "/traits/memory_mb", []desc{
			v("memory_mb", "integer", "512"), v("memory_mb", "integer", "4096"), v("memory_mb", "integer", "2048")}},
		{"integer values, A", tokA, "/v2/event_types/" + evCreate + "/traits/memory_mb", []desc{
			v("memory_mb", "integer", "512"), v("memory_mb", "integer", "2048")}},
		{"float values", tokAdmin, "/v2/event_types/" + evCreate + "/traits/disk_gb", []desc{
			v("disk_gb", "float", "1.5"), v("disk_gb", "float", "80.0"), v("disk_gb", "float", "20.0")}},
		{"datetime values", tokB, "/v2/event_types/" + evCreate + "/traits/launched_at", []desc{
			v("launched_at", "datetime", "2024-01-02T03:01:00")}},
		{"datetime values with microseconds", tokA, "/v2/event_types/" + evCreate + "/traits/launched_at", []desc{
			v("launched_at", "datetime", "2024-01-02T03:00:00"), v("launched_at", "datetime", "2024-01-02T03:02:00.123456")}},
		{"values of another project's type", tokA, "/v2/event_types/" + evImage + "/traits/size", []desc{}},
		{"big integer", tokB, "/v2/event_types/" + evImage + "/traits/size", []desc{v("size", "integer", "1073741824")}},
		{"unknown trait", tokAdmin, "/v2/event_types/" + evCreate + "/traits/nope", []desc{}},
		{"types, a page", tokAdmin, "/v2/event_types?limit=2&marker=" + evCreate, []any{evDelete, "identity.authenticate"}},
		{"types, a member's page", tokB, "/v2/event_types?limit=1&marker=" + evCreate, []any{evImage}},
		{"descriptions, a page", tokAdmin, "/v2/event_types/" + evCreate + "/traits?limit=2&marker=host", createDescs[2:4]},
		{"values, the first", tokAdmin, "/v2/event_types/" + evCreate + "/traits/memory_mb?limit=2", []desc{
			v("memory_mb", "integer", "512"), v("memory_mb", "integer", "4096")}},
	}
	for name, srv := range eventServers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					rec := call(t, srv, "GET", tc.target, tc.token, "")
					require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
					want := mustJSON(t, tc.want)
					require.JSONEq(t, want, rec.Body.String())
				})
			}
			requireError(t, call(t, srv, "GET", "/v2/event_types?sort=name", tokAdmin, ""), 400, "unknown parameter sort")
			requireError(t, call(t, srv, "GET", "/v2/event_types/"+evCreate+"/traits/host?marker=x", tokAdmin, ""), 400, "unknown parameter marker")
			requireError(t, call(t, srv, "GET", "/v2/event_types/x", tokAdmin, ""), 404, "not found")
			requireError(t, call(t, srv, "GET", "/v2/event_types//traits", tokAdmin, ""), 400, "event_type: empty")
			requireError(t, call(t, srv, "GET", "/v2/event_types//traits/host", tokA, ""), 400, "event_type: empty")
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// eventEndpoints are one request per event endpoint, for the auth checks.
var eventEndpoints = []string{
	"/v2/events", "/v2/events/ev-a1", "/v2/event_types",
	"/v2/event_types/" + evCreate + "/traits", "/v2/event_types/" + evCreate + "/traits/host",
}

func TestEventAuthentication(t *testing.T) {
	t.Parallel()
	fe := newFakeEvents()
	srv := New(Options{Events: fe, Auth: testAuth})
	for _, target := range eventEndpoints {
		t.Run(target, func(t *testing.T) {
			requireError(t, call(t, srv, "GET", target, "", ""), http.StatusUnauthorized, "missing X-Auth-Token")
			requireError(t, call(t, srv, "GET", target, "nope", ""), http.StatusUnauthorized, "unauthorized")
			requireError(t, call(t, srv, "GET", target, "broken", ""), http.StatusInternalServerError, "token file unreadable")
			requireError(t, call(t, srv, "GET", target, tokNoProj, ""), http.StatusForbidden, "no project")
			require.Equal(t, http.StatusOK, call(t, srv, "GET", target, tokAdmin, "").Code)
		})
	}
	fe.mu.Lock()
	require.Equal(t, len(eventEndpoints), fe.calls, "no store call without a valid token")
	fe.mu.Unlock()
	t.Run("no authenticator refuses everything", func(t *testing.T) {
		srv := New(Options{Events: newFakeEvents()})
		requireError(t, call(t, srv, "GET", "/v2/events", tokAdmin, ""), http.StatusUnauthorized, "no authenticator")
	})
}

// TestEventEndpointsOptional: without Options.Events the endpoints are not
// served and the capabilities say so; with it they are.
func TestEventEndpointsOptional(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{rows: fixture()}
	without := New(Options{Store: fs, Auth: testAuth})
	for _, target := range eventEndpoints {
		requireError(t, call(t, without, "GET", target, tokAdmin, ""), http.StatusNotFound, "not found")
	}
	caps := func(srv *Server) (bool, bool) {
		rec := call(t, srv, "GET", "/v2/capabilities", tokA, "")
		require.Equal(t, http.StatusOK, rec.Code)
		c := decodeObject(t, rec.Body.Bytes())
		return c["api"].(map[string]any)["events:query:simple"].(bool),
			c["event_storage"].(map[string]any)["storage:production_ready"].(bool)
	}
	q, ready := caps(without)
	require.False(t, q)
	require.False(t, ready)
	with, _ := testServer(t)
	q, ready = caps(with)
	require.True(t, q)
	require.True(t, ready)
	// Events without the sample store: the event endpoints alone.
	only := New(Options{Events: newFakeEvents(), Auth: testAuth})
	require.Equal(t, http.StatusOK, call(t, only, "GET", "/v2/events", tokA, "").Code)
	requireError(t, call(t, only, "GET", "/v2/samples", tokA, ""), http.StatusNotFound, "not found")
}

// TestParseEventQueryFilter checks the filter handed to the store.
func TestParseEventQueryFilter(t *testing.T) {
	t.Parallel()
	params, err := url.ParseQuery(qs(
		"q.field", "event_type", "q.value", "compute.*",
		"q.field", "start_timestamp", "q.value", "2024-01-02T03:00:00",
		"q.field", "end_timestamp", "q.value", "2024-01-02T04:00:00",
		"q.field", "memory_mb", "q.value", " 0512", "q.field", "disk_gb", "q.value", "1.50",
		"q.field", "at", "q.value", "2024-01-02 03:00:00+01:00", "q.field", "project_id", "q.value", projectA,
	)[1:])
	require.NoError(t, err)
	// qs sorts keys, so the lists stay paired by position; set the types.
	params["q.type"] = []string{"", "datetime", "", "integer", "float", "datetime", "string"}
	params["q.op"] = []string{"eq", "gt", "le", "ge", "lt", "ne", "eq"}
	f, err := parseEventQuery(params, projectA)
	require.NoError(t, err)
	require.Equal(t, "compute.*", f.EventType)
	require.Equal(t, projectA, f.Project)
	require.Equal(t, t0.Add(time.Nanosecond), f.Start, "gt moves the inclusive start")
	require.Equal(t, t0.Add(time.Hour+time.Nanosecond), f.End, "le moves the exclusive end")
	require.Len(t, f.Traits, 4)
	require.Equal(t, "512", f.Traits[0].Value)
	require.Equal(t, sample.TraitInt, f.Traits[0].Type)
	require.Equal(t, "1.5", f.Traits[1].Value)
	require.Equal(t, "lt", f.Traits[1].Op)
	require.Equal(t, "2024-01-02T02:00:00Z", f.Traits[2].Value, "datetimes reach the store in RFC 3339, UTC")
	require.Equal(t, sample.TraitText, f.Traits[3].Type)

	_, err = parseEventQuery(url.Values{"q.field": {"tenant_id"}, "q.value": {projectB}}, projectA)
	require.True(t, errors.Is(err, ErrForbidden), "%v", err)
	_, err = parseEventQuery(url.Values{"q.field": {"tenant_id"}, "q.value": {projectB}}, "")
	require.NoError(t, err, "an admin names any project")
}

func TestRenderTrait(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		tr   sample.Trait
		want string
	}{
		{sample.Trait{Type: sample.TraitText, Text: "a b"}, "a b"},
		{sample.Trait{Type: sample.TraitInt, Int: -42}, "-42"},
		{sample.Trait{Type: sample.TraitFloat, Float: 80}, "80.0"},
		{sample.Trait{Type: sample.TraitFloat, Float: 0.1}, "0.1"},
		{sample.Trait{Type: sample.TraitFloat, Float: 1e16}, "1e+16"},
		{sample.Trait{Type: sample.TraitFloat, Float: 1.5e-5}, "1.5e-05"},
		{sample.Trait{Type: sample.TraitFloat, Float: math.Inf(-1)}, "-inf"},
		{sample.Trait{Type: sample.TraitFloat, Float: math.NaN()}, "nan"},
		{sample.Trait{Type: sample.TraitDatetime, Datetime: at}, "2024-05-06T06:08:09"},
		{sample.Trait{Type: sample.TraitDatetime, Datetime: at.Add(1500 * time.Nanosecond)}, "2024-05-06T06:08:09.000001"},
	} {
		t.Run(fmt.Sprintf("%s %s", tc.tr.Type, tc.want), func(t *testing.T) {
			require.Equal(t, tc.want, renderTrait(&tc.tr).Value)
		})
	}
}

func TestRawJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", `{}`},
		{"  \n", `{}`},
		{` {"a": [1, 2]} `, `{"a":[1,2]}`},
		{`[1]`, `[1]`},
		{`not json`, `"not json"`},
		{"\xff{", `"\ufffd{"`},
	} {
		require.Equal(t, tc.want, string(rawJSON([]byte(tc.in))), "%q", tc.in)
	}
}
