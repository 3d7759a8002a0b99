package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"

	"github.com/altimeter/altimeter/host/auth"
	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/sdk/sample"
)

// fakeStore is an in-memory store.Reader and store.Writer with the
// contract's semantics (filter, match, order, limit, marker), for unit tests
// of the handlers. It records the last filter and query it was given.
type fakeStore struct {
	mu        sync.Mutex
	rows      []store.Sample
	lastF     store.Filter
	lastO     store.ListOptions
	lastStats store.StatsQuery
	calls     int
	now       func() time.Time
}

var _ store.Reader = (*fakeStore)(nil)
var _ store.ProjectWriter = (*fakeStore)(nil)

// WriteAs has the store's semantics: a project's write naming another
// project's resource is refused whole; message ids are per project; a
// sample without one gets an id from its series and timestamp.
func (f *fakeStore) WriteAs(_ context.Context, project string, smps []sample.Sample) (store.WriteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if project != "" {
		for i, s := range smps {
			for _, r := range f.rows {
				if r.ResourceID == s.ResourceID && r.ProjectID != project {
					return store.WriteResult{}, &store.ResourceConflictError{Index: i, ResourceID: s.ResourceID}
				}
			}
		}
	}
	res := store.WriteResult{Status: make([]store.WriteStatus, len(smps)), MessageIDs: make([]string, len(smps))}
	for i, s := range smps {
		if s.MessageID == "" {
			s.MessageID = fmt.Sprintf("canon-%s-%s-%s-%d", s.ProjectID, s.ResourceID, s.Name, s.Timestamp.UnixMicro())
		}
		res.MessageIDs[i] = s.MessageID
		dup := false
		for _, r := range f.rows {
			dup = dup || (r.MessageID == s.MessageID && r.ProjectID == s.ProjectID)
		}
		if dup {
			res.Status[i] = store.Duplicate
			res.Duplicates++
			continue
		}
		f.rows = append(f.rows, store.Sample{Sample: s, RecordedAt: f.now()})
		res.Stored++
	}
	return res, nil
}

func matchFilter(fl *store.Filter, s *store.Sample) bool {
	eq := func(want, have string) bool { return want == "" || want == have }
	if !eq(fl.Meter, s.Name) || !eq(fl.ResourceID, s.ResourceID) || !eq(fl.ProjectID, s.ProjectID) ||
		!eq(fl.UserID, s.UserID) || !eq(fl.Source, s.Source) {
		return false
	}
	if !fl.Start.IsZero() && s.Timestamp.Before(fl.Start) {
		return false
	}
	if !fl.End.IsZero() && !s.Timestamp.Before(fl.End) {
		return false
	}
	for k, v := range fl.Metadata {
		if have, ok := s.Metadata[k]; !ok || have != v {
			return false
		}
	}
	return true
}

func (f *fakeStore) filtered(fl store.Filter, match func(*store.Sample) bool) []store.Sample {
	var out []store.Sample
	for _, r := range f.rows {
		if matchFilter(&fl, &r) && (match == nil || match(&r)) {
			out = append(out, r)
		}
	}
	return out
}

func limitOf(n int) int {
	if n <= 0 {
		return store.DefaultLimit
	}
	return n
}

func (f *fakeStore) Samples(_ context.Context, fl store.Filter, o store.ListOptions) ([]store.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastF, f.lastO, f.calls = fl, o, f.calls+1
	rows := f.filtered(fl, o.Match)
	less := func(a, b *store.Sample) int {
		for _, t := range o.OrderBy {
			var c int
			switch t.Field {
			case "timestamp":
				c = a.Timestamp.Compare(b.Timestamp)
			case "counter_volume":
				c = cmpFloat(a.Volume, b.Volume)
			case "counter_name":
				c = strings.Compare(a.Name, b.Name)
			case "resource_id":
				c = strings.Compare(a.ResourceID, b.ResourceID)
			case "project_id":
				c = strings.Compare(a.ProjectID, b.ProjectID)
			case "user_id":
				c = strings.Compare(a.UserID, b.UserID)
			case "source":
				c = strings.Compare(a.Source, b.Source)
			case "message_id":
				c = strings.Compare(a.MessageID, b.MessageID)
			case "recorded_at":
				c = a.RecordedAt.Compare(b.RecordedAt)
			case "counter_unit":
				c = strings.Compare(a.Unit, b.Unit)
			case "counter_type":
				c = strings.Compare(a.Type.String(), b.Type.String())
			default:
				panic("fake store: order by " + t.Field)
			}
			if t.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		if c := b.Timestamp.Compare(a.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.MessageID, b.MessageID)
	}
	sort.SliceStable(rows, func(i, j int) bool { return less(&rows[i], &rows[j]) < 0 })
	if o.Marker != "" {
		pos := -1
		for i := range rows {
			if rows[i].MessageID == o.Marker {
				pos = i
			}
		}
		if pos < 0 {
			return nil, fmt.Errorf("%w: marker %q", store.ErrInvalid, o.Marker)
		}
		rows = rows[pos+1:]
	}
	if n := limitOf(o.Limit); len(rows) > n {
		rows = rows[:n]
	}
	return rows, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (f *fakeStore) Sample(_ context.Context, id, project string) (store.Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rows {
		if r.MessageID == id && (project == "" || r.ProjectID == project) {
			return r, nil
		}
	}
	return store.Sample{}, fmt.Errorf("sample %s: %w", id, store.ErrNotFound)
}

func (f *fakeStore) Meters(_ context.Context, fl store.Filter, o store.ListOptions) ([]store.Meter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastF, f.lastO, f.calls = fl, o, f.calls+1
	latest := map[string]store.Sample{}
	for _, r := range f.filtered(fl, nil) {
		k := r.Name + "\x00" + r.ResourceID
		if prev, ok := latest[k]; !ok || r.Timestamp.After(prev.Timestamp) {
			latest[k] = r
		}
	}
	var out []store.Meter
	for _, r := range latest {
		out = append(out, store.Meter{
			MeterID: base64.StdEncoding.EncodeToString([]byte(r.ResourceID + "+" + r.Name)),
			Name:    r.Name, Type: r.Type, Unit: r.Unit, ResourceID: r.ResourceID,
			ProjectID: r.ProjectID, UserID: r.UserID, Source: r.Source,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ResourceID < out[j].ResourceID
	})
	if o.UniqueNames {
		out = slices.CompactFunc(out, func(a, b store.Meter) bool { return a.Name == b.Name })
		if o.Marker != "" {
			raw, _ := base64.StdEncoding.DecodeString(o.Marker)
			_, name, _ := strings.Cut(string(raw), "+")
			for len(out) > 0 && out[0].Name <= name {
				out = out[1:]
			}
			o.Marker = ""
		}
	}
	if o.Marker != "" {
		pos := -1
		for i := range out {
			if out[i].MeterID == o.Marker {
				pos = i
			}
		}
		if pos < 0 {
			return nil, fmt.Errorf("%w: marker %q", store.ErrInvalid, o.Marker)
		}
		out = out[pos+1:]
	}
	if n := limitOf(o.Limit); len(out) > n {
		out = out[:n]
	}
	return out, nil
}

func (f *fakeStore) resources(fl store.Filter) []store.Resource {
	byID := map[string]*store.Resource{}
	for _, r := range f.filtered(fl, nil) {
		res, ok := byID[r.ResourceID]
		if !ok {
			res = &store.Resource{ResourceID: r.ResourceID, FirstSample: r.Timestamp, LastSample: r.Timestamp}
			byID[r.ResourceID] = res
		}
		if !r.Timestamp.Before(res.LastSample) {
			res.LastSample, res.ProjectID, res.UserID, res.Source, res.Metadata = r.Timestamp, r.ProjectID, r.UserID, r.Source, r.Metadata
		}
		if r.Timestamp.Before(res.FirstSample) {
			res.FirstSample = r.Timestamp
		}
		found := false
		for _, m := range res.Meters {
			found = found || m == r.Name
		}
		if !found {
			res.Meters = append(res.Meters, r.Name)
		}
	}
	out := make([]store.Resource, 0, len(byID))
	for _, r := range byID {
		sort.Strings(r.Meters)
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResourceID < out[j].ResourceID })
	return out
}

func (f *fakeStore) Resources(_ context.Context, fl store.Filter, o store.ListOptions) ([]store.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastF, f.lastO, f.calls = fl, o, f.calls+1
	out := f.resources(fl)
	if o.Marker != "" {
		i := sort.Search(len(out), func(i int) bool { return out[i].ResourceID > o.Marker })
		out = out[i:]
	}
	if n := limitOf(o.Limit); len(out) > n {
		out = out[:n]
	}
	return out, nil
}

func (f *fakeStore) Resource(_ context.Context, id, project string) (store.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.resources(store.Filter{ResourceID: id}) {
		if project == "" || r.ProjectID == project {
			return r, nil
		}
	}
	return store.Resource{}, fmt.Errorf("resource %s: %w", id, store.ErrNotFound)
}

func (f *fakeStore) Statistics(_ context.Context, q store.StatsQuery) ([]store.Statistics, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastStats, f.calls = q, f.calls+1
	if q.Filter.Meter == "" {
		return nil, fmt.Errorf("%w: statistics need a meter", store.ErrInvalid)
	}
	rows := f.filtered(q.Filter, nil)
	if len(rows) == 0 {
		return []store.Statistics{}, nil
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Timestamp.Before(rows[j].Timestamp) })
	origin := q.Filter.Start
	if origin.IsZero() {
		origin = rows[0].Timestamp
	}
	type key struct{ group, bucket string }
	groups := map[key][]store.Sample{}
	var order []key
	for _, r := range rows {
		var parts []string
		for _, g := range q.GroupBy {
			switch {
			case g == "resource_id":
				parts = append(parts, r.ResourceID)
			case g == "project_id":
				parts = append(parts, r.ProjectID)
			case g == "user_id":
				parts = append(parts, r.UserID)
			case g == "source":
				parts = append(parts, r.Source)
			case strings.HasPrefix(g, "resource_metadata."):
				parts = append(parts, r.Metadata[strings.TrimPrefix(g, "resource_metadata.")])
			default:
				return nil, fmt.Errorf("%w: group by %q", store.ErrInvalid, g)
			}
		}
		var b int64
		if q.Period > 0 {
			b = int64(r.Timestamp.Sub(origin) / q.Period)
		}
		k := key{strings.Join(parts, "\x00"), fmt.Sprint(b)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out []store.Statistics
	for _, k := range order {
		rs := groups[k]
		st := store.Statistics{Unit: rs[0].Unit, Min: math.Inf(1), Max: math.Inf(-1), Period: q.Period}
		if len(q.GroupBy) > 0 {
			st.GroupBy = map[string]string{}
			for i, p := range strings.Split(k.group, "\x00") {
				st.GroupBy[q.GroupBy[i]] = p
			}
		}
		card := map[string]map[string]bool{"resource_id": {}, "project_id": {}, "user_id": {}}
		for _, r := range rs {
			st.Count++
			st.Sum += r.Volume
			st.Min = math.Min(st.Min, r.Volume)
			st.Max = math.Max(st.Max, r.Volume)
			card["resource_id"][r.ResourceID] = true
			card["project_id"][r.ProjectID] = true
			card["user_id"][r.UserID] = true
		}
		st.Avg = st.Sum / float64(st.Count)
		st.DurationStart, st.DurationEnd = rs[0].Timestamp, rs[len(rs)-1].Timestamp
		if q.Period > 0 {
			var b int64
			fmt.Sscan(k.bucket, &b)
			st.PeriodStart = origin.Add(time.Duration(b) * q.Period)
			st.PeriodEnd = st.PeriodStart.Add(q.Period)
		} else {
			st.PeriodStart, st.PeriodEnd = st.DurationStart, st.DurationEnd
			if !q.Filter.Start.IsZero() {
				st.PeriodStart = q.Filter.Start
			}
			if !q.Filter.End.IsZero() {
				st.PeriodEnd = q.Filter.End
			}
		}
		for _, a := range q.Aggregates {
			if st.Aggregate == nil {
				st.Aggregate = map[string]float64{}
			}
			switch a.Func {
			case "stddev":
				var ss float64
				for _, r := range rs {
					ss += (r.Volume - st.Avg) * (r.Volume - st.Avg)
				}
				st.Aggregate["stddev"] = math.Sqrt(ss / float64(st.Count))
			case "cardinality":
				st.Aggregate["cardinality/"+a.Param] = float64(len(card[a.Param]))
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// fakeAuth maps tokens to principals.
type fakeAuth map[string]auth.Principal

func (a fakeAuth) Authenticate(_ context.Context, token string) (auth.Principal, error) {
	if token == "broken" {
		return auth.Principal{}, fmt.Errorf("token file unreadable")
	}
	p, ok := a[token]
	if !ok {
		return auth.Principal{}, fmt.Errorf("token: %w", auth.ErrUnauthorized)
	}
	return p, nil
}

// The tokens of the tests.
const (
	tokAdmin   = "admin-token"
	tokA       = "member-a"
	tokB       = "member-b"
	tokNoProj  = "member-without-project"
	tokTimeout = "admin-timeout" // an admin; the conformance test's stalled store
	tokAdminA  = "admin-of-a"    // an admin whose token names project A
	projectA   = "proj-a"
	projectB   = "proj-b"
	resourceA1 = "res-a1"
	resourceA2 = "res-a2"
	resourceB1 = "res-b1"
)

var testAuth = fakeAuth{
	tokAdmin:   {TokenID: "t0", Role: auth.RoleAdmin},
	tokA:       {TokenID: "t1", Project: projectA, Role: auth.RoleMember},
	tokB:       {TokenID: "t2", Project: projectB, Role: auth.RoleMember},
	tokNoProj:  {TokenID: "t3", Role: auth.RoleMember},
	tokTimeout: {TokenID: "t4", Role: auth.RoleAdmin},
	tokAdminA:  {TokenID: "t5", Project: projectA, Role: auth.RoleAdmin},
}

// t0 is the time of the first fixture sample.
var t0 = time.Date(2024, 1, 2, 3, 0, 0, 0, time.UTC)

// fixture returns the rows of the tests: project A has two resources with
// cpu_util (4 and 2 samples) and A1 one "disk" sample, project B one
// resource with 3 cpu_util samples.
func fixture() []store.Sample {
	var rows []store.Sample
	add := func(id, meter, res, proj, user string, minute int, v float64, md map[string]string) {
		rows = append(rows, store.Sample{
			Sample: sample.Sample{
				Name: meter, Type: sample.Gauge, Unit: "%", Volume: v, ResourceID: res, ProjectID: proj,
				UserID: user, Source: "openstack", Timestamp: t0.Add(time.Duration(minute) * time.Minute),
				MessageID: id, Metadata: md,
			},
			RecordedAt: t0.Add(time.Duration(minute)*time.Minute + 123456*time.Microsecond),
		})
	}
	small := map[string]string{"flavor.name": "small", "host": "h1"}
	large := map[string]string{"flavor.name": "large", "host": "h2"}
	add("a1-0", "cpu_util", resourceA1, projectA, "user-a", 0, 10, small)
	add("a1-1", "cpu_util", resourceA1, projectA, "user-a", 1, 20, small)
	add("a1-2", "cpu_util", resourceA1, projectA, "user-a", 2, 30, small)
	add("a1-3", "cpu_util", resourceA1, projectA, "user-a", 3, 40, small)
	add("a2-0", "cpu_util", resourceA2, projectA, "user-a2", 0, 5, large)
	add("a2-1", "cpu_util", resourceA2, projectA, "user-a2", 1, 7, large)
	add("a1-d", "disk", resourceA1, projectA, "user-a", 2, 1000, small)
	add("b1-0", "cpu_util", resourceB1, projectB, "user-b", 0, 90, large)
	add("b1-1", "cpu_util", resourceB1, projectB, "user-b", 1, 91, large)
	add("b1-2", "cpu_util", resourceB1, projectB, "user-b", 2, 92, large)
	return rows
}

// testServer returns a server over a fake store holding the fixture.
func testServer(t testing.TB) (*Server, *fakeStore) {
	t.Helper()
	fs := &fakeStore{rows: fixture(), now: func() time.Time { return t0.Add(time.Hour) }}
	log := hclog.New(&hclog.LoggerOptions{Output: testWriter{t}, Level: hclog.Warn})
	srv := New(Options{Address: "127.0.0.1:0", Logger: log, Store: fs, Writer: fs, Events: newFakeEvents(), Notifications: archiveFixture(t), Auth: testAuth,
		Cluster: fakeCluster{}, Tokens: fakeTokens{}, Alarms: testAlarms(t),
		Plugins: fakePlugins{{ID: "pollster.host.main", Name: "host", Kind: "pollster", Version: "1.0.0", State: "running", PID: 42, Since: t0, Meters: []string{"cpu_util"}}}})
	return srv, fs
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

type fakePlugins []Plugin

func (f fakePlugins) Plugins() []Plugin { return append([]Plugin(nil), f...) }

// call performs one request against srv and returns the recorder.
func call(t testing.TB, srv *Server, method, target, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	if token != "" {
		req.Header.Set(TokenHeader, token)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	return rec
}

func TestFakeStoreHonoursTheContract(t *testing.T) {
	t.Parallel()
	fs := &fakeStore{rows: fixture()}
	rows, err := fs.Samples(context.Background(), store.Filter{ProjectID: projectA, Meter: "cpu_util"}, store.ListOptions{Limit: 2})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, []string{"a1-3", "a1-2"}, []string{rows[0].MessageID, rows[1].MessageID})
	rows, err = fs.Samples(context.Background(), store.Filter{ProjectID: projectA, Meter: "cpu_util"}, store.ListOptions{Limit: 2, Marker: "a1-2"})
	require.NoError(t, err)
	require.Equal(t, "a1-1", rows[0].MessageID)
}
