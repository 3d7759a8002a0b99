package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// postedJSON is one sample to POST as JSON; id "" posts no message_id.
func postedJSON(resource, id string, minute int, v float64) string {
	s := fmt.Sprintf(`{"counter_name":"cpu_util","counter_type":"gauge","counter_unit":"%%","counter_volume":%v,"resource_id":%q,"timestamp":%q`,
		v, resource, t0.Add(time.Duration(minute)*time.Minute).Format("2006-01-02T15:04:05"))
	if id != "" {
		s += fmt.Sprintf(`,"message_id":%q`, id)
	}
	return s + `,"resource_metadata":{"owner":"` + resource + `"}}`
}

func postAll(t *testing.T, srv *Server, token string, items ...string) *httpResult {
	t.Helper()
	rec := call(t, srv, "POST", "/v2/meters/cpu_util", token, "["+strings.Join(items, ",")+"]")
	return &httpResult{code: rec.Code, body: rec.Body.String(), stored: rec.Header().Get(HeaderStored), dups: rec.Header().Get(HeaderDuplicates)}
}

type httpResult struct {
	code         int
	body         string
	stored, dups string
}

// TestResourceTakeoverRefused: project A cannot write to project B's
// resource. The write is refused whole (409 naming the sample), B's
// resource stays B's (listed, found, same first sample time and
// metadata), and A learns nothing of it but that it is taken.
func TestResourceTakeoverRefused(t *testing.T) {
	t.Parallel()
	srv := realStoreServer(t)
	before := call(t, srv, "GET", "/v2/resources/"+resourceB1, tokB, "")
	require.Equal(t, http.StatusOK, before.Code)

	for _, minute := range []int{-600, 30} { // before B's first sample and after its last
		r := postAll(t, srv, tokA, postedJSON("res-a-new", "", minute, 1), postedJSON(resourceB1, "", minute, 2))
		require.Equal(t, http.StatusConflict, r.code, r.body)
		require.Contains(t, r.body, "samples[1].resource_id: resource res-b1 belongs to another project")
		require.NotContains(t, r.body, projectB)
		require.NotContains(t, r.body, "2024-01-02T03:00")
	}
	after := call(t, srv, "GET", "/v2/resources/"+resourceB1, tokB, "")
	require.Equal(t, http.StatusOK, after.Code, after.Body.String())
	require.JSONEq(t, before.Body.String(), after.Body.String(), "B's resource is untouched")
	require.Contains(t, strs(decodeList(t, call(t, srv, "GET", "/v2/resources", tokB, "").Body.Bytes()), "resource_id"), resourceB1)
	requireError(t, call(t, srv, "GET", "/v2/resources/"+resourceB1, tokA, ""), http.StatusNotFound, resourceB1)
	require.NotContains(t, strs(decodeList(t, call(t, srv, "GET", "/v2/resources", tokA, "").Body.Bytes()), "resource_id"), "res-a-new",
		"nothing of the refused request was stored")

	// A's own resources and new ones are A's to write.
	r := postAll(t, srv, tokA, postedJSON(resourceA1, "", 30, 1), postedJSON("res-a-new", "", 30, 2))
	require.Equal(t, http.StatusCreated, r.code, r.body)
	// An admin writes where it likes (pipelines, the cluster's publishers).
	r = postAll(t, srv, tokAdmin, strings.Replace(postedJSON(resourceB1, "", 31, 3), `{`, `{"project_id":"proj-b",`, 1))
	require.Equal(t, http.StatusCreated, r.code, r.body)
}

// TestMessageIDNotPreempted: deduplication never crosses projects. An id A
// used first does not drop B's sample; A cannot tell an id B uses from a
// fresh one; each reads its own sample by the id; a retry in the same
// project is reported as already stored.
func TestMessageIDNotPreempted(t *testing.T) {
	t.Parallel()
	srv := realStoreServer(t)
	r := postAll(t, srv, tokA, postedJSON(resourceA1, "shared", 10, 11))
	require.Equal(t, http.StatusCreated, r.code, r.body)
	require.Equal(t, [2]string{"1", "0"}, [2]string{r.stored, r.dups})

	r = postAll(t, srv, tokB, postedJSON(resourceB1, "shared", 10, 22))
	require.Equal(t, http.StatusCreated, r.code, r.body)
	require.Equal(t, [2]string{"1", "0"}, [2]string{r.stored, r.dups}, "B's sample is stored")
	for tok, want := range map[string]float64{tokA: 11, tokB: 22} {
		rec := call(t, srv, "GET", "/v2/samples/shared", tok, "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, want, decodeObject(t, rec.Body.Bytes())["volume"])
	}
	rec := call(t, srv, "GET", "/v2/meters/cpu_util/statistics", tokB, "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, 4.0, decodeList(t, rec.Body.Bytes())[0]["count"], "B's 3 fixture samples and its posted one")

	// Probing: B's fixture id b1-0 and a fresh id look the same to A.
	probe := postAll(t, srv, tokA, postedJSON(resourceA1, "b1-0", 20, 1))
	fresh := postAll(t, srv, tokA, postedJSON(resourceA1, "never-used", 21, 1))
	require.Equal(t, http.StatusCreated, probe.code, probe.body)
	require.Equal(t, [3]any{fresh.code, fresh.stored, fresh.dups}, [3]any{probe.code, probe.stored, probe.dups})
	rec = call(t, srv, "GET", "/v2/samples/b1-0", tokB, "")
	require.Equal(t, 90.0, decodeObject(t, rec.Body.Bytes())["volume"], "B's sample is B's")

	// A retry in the same project: already stored, not stored again.
	r = postAll(t, srv, tokA, postedJSON(resourceA1, "shared", 10, 99))
	require.Equal(t, http.StatusCreated, r.code, r.body)
	require.Equal(t, [2]string{"0", "1"}, [2]string{r.stored, r.dups})
	rec = call(t, srv, "GET", "/v2/samples/shared", tokA, "")
	require.Equal(t, 11.0, decodeObject(t, rec.Body.Bytes())["volume"])
}

// TestPostWithoutMessageIDStoredOnce: a sample posted twice without
// message_id is stored once, under the canonical id of its series and
// timestamp, which both answers give and GET /v2/samples/{id} finds.
func TestPostWithoutMessageIDStoredOnce(t *testing.T) {
	t.Parallel()
	srv := realStoreServer(t)
	first := call(t, srv, "POST", "/v2/meters/cpu_util", tokA, "["+postedJSON("res-a9", "", 5, 1)+"]")
	require.Equal(t, http.StatusCreated, first.Code, first.Body.String())
	second := call(t, srv, "POST", "/v2/meters/cpu_util", tokA, "["+postedJSON("res-a9", "", 5, 1)+"]")
	require.Equal(t, http.StatusCreated, second.Code, second.Body.String())
	require.Equal(t, "0", second.Header().Get(HeaderStored))
	require.Equal(t, "1", second.Header().Get(HeaderDuplicates))
	id := decodeList(t, first.Body.Bytes())[0]["message_id"]
	require.Equal(t, id, decodeList(t, second.Body.Bytes())[0]["message_id"])
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id, "a version 8 locator, not a random v4")

	rec := call(t, srv, "GET", "/v2/meters/cpu_util/statistics?q.field=resource_id&q.value=res-a9", tokA, "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, 1.0, decodeList(t, rec.Body.Bytes())[0]["count"])
	rec = call(t, srv, "GET", "/v2/samples/"+id.(string), tokA, "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "res-a9", decodeObject(t, rec.Body.Bytes())["resource_id"])
}

// TestTooOldIsNot201: a sample the store skips (older than its series'
// out-of-order window) is never answered 201.
func TestTooOldIsNot201(t *testing.T) {
	t.Parallel()
	srv := realStoreServer(t)
	r := postAll(t, srv, tokA, postedJSON(resourceA1, "", 60*24*10, 1))
	require.Equal(t, http.StatusCreated, r.code, r.body)
	r = postAll(t, srv, tokA, postedJSON(resourceA1, "", 60*24*10+1, 2), postedJSON(resourceA1, "", 5, 3))
	require.Equal(t, http.StatusConflict, r.code, r.body)
	require.Contains(t, r.body, "samples[1].timestamp")
	require.Contains(t, r.body, "1 of 2 samples not stored (1 stored, 0 already stored)")
	require.Equal(t, "1", r.stored)
}
