package api

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"
)

var eventSeeds = []string{
	"",
	"q.field=event_type&q.op=eq&q.value=compute.*",
	"q.field=event_type&q.value=[a-",
	"q.field=event_type&q.value=*&q.field=message_id&q.value=ev-a1",
	"q.field=start_timestamp&q.op=gt&q.value=2024-01-02T03:00:00&q.field=end_timestamp&q.op=le&q.value=2024-01-02T03:03:00%2B00:00",
	"q.field=start_timestamp&q.value=0001-01-01T00:00:00&q.field=end_timestamp&q.value=9999-12-31T23:59:59.999999",
	"q.field=start_timestamp&q.op=lt&q.value=x",
	"q.field=memory_mb&q.op=ge&q.type=integer&q.value=512",
	"q.field=memory_mb&q.type=integer&q.value=-9223372036854775808",
	"q.field=disk_gb&q.op=lt&q.type=float&q.value=1e308",
	"q.field=disk_gb&q.type=float&q.value=-0",
	"q.field=launched_at&q.op=ne&q.type=datetime&q.value=2024-01-02T03:00:00",
	"q.field=launched_at&q.type=datetime&q.value=1677-12-31T23:59:59",
	"q.field=host&q.type=boolean&q.value=true",
	"q.field=project_id&q.value=proj-b",
	"q.field=tenant_id&q.op=ne&q.value=proj-a",
	"q.field=&q.value=",
	"q.field=a&q.field=b&q.value=1",
	"q.nope=1",
	"limit=0",
	"limit=1&marker=ev-b1",
	"limit=99999999999999999999",
	"limit=9223372036854775807", // issue 9, item 1
	"limit=2147483648",
	"limit=10001",
	"marker=",
	"sort=generated",
	"q.field=x%00y&q.value=%ff%fe",
}

// FuzzEventQuery: any query string of GET /v2/events gives an answer or a
// precise 400/403, never a panic or a 500, in the parser and through the
// handler over the fake and the real store.
func FuzzEventQuery(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add(s)
	}
	fake, _ := testServer(f)
	realSrv := realStoreServer(f)
	f.Fuzz(func(t *testing.T, raw string) {
		if params, err := url.ParseQuery(raw); err == nil {
			for _, sc := range []string{"", projectA} {
				if _, err := parseEventQuery(params, sc); err != nil && !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrForbidden) {
					t.Fatalf("scope %q: parse error is neither a bad request nor forbidden: %v", sc, err)
				}
			}
		}
		for _, srv := range []*Server{fake, realSrv} {
			for _, tok := range []string{tokA, tokAdmin} {
				req := httptest.NewRequest("GET", "/v2/events", nil)
				req.URL.RawQuery = raw // as sent, even where NewRequest would refuse it
				req.Header.Set(TokenHeader, tok)
				rec := httptest.NewRecorder()
				srv.Handler().ServeHTTP(rec, req)
				if rec.Code >= 500 {
					t.Fatalf("GET /v2/events?%s: %d %s", raw, rec.Code, rec.Body.String())
				}
			}
		}
	})
}
