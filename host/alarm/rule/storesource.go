package rule

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/altimeter/altimeter/host/store"
	"github.com/altimeter/altimeter/host/store/series"
)

// StoreSource is the Source over the embedded store. Policies and Rules
// are the series options the store was opened with (the agent's store
// options), from which it tells each meter's archive granularities.
type StoreSource struct {
	st       *store.Store
	policies []series.Policy
	rules    []series.Rule
}

var _ Source = (*StoreSource)(nil)

// NewStoreSource adapts st. o is the store's series options (store.Options
// .Series): nil policies mean series.DefaultPolicies and nil rules "*" ->
// medium, as the store itself resolves them.
func NewStoreSource(st *store.Store, o series.Options) *StoreSource {
	s := &StoreSource{st: st, policies: o.Policies, rules: o.Rules}
	if len(s.policies) == 0 {
		s.policies = series.DefaultPolicies()
	}
	if s.rules == nil {
		s.rules = []series.Rule{{Pattern: "*", Policy: "medium"}}
	}
	return s
}

// Statistics implements Source over store.Statistics (one group, buckets
// from q.Start).
func (s *StoreSource) Statistics(ctx context.Context, q StatsQuery) ([]Bucket, error) {
	if q.ProjectID == "" {
		return nil, errors.New("statistics: no project scope")
	}
	sq := store.StatsQuery{
		Filter: store.Filter{
			Meter: q.Meter, ResourceID: q.ResourceID, ProjectID: q.ProjectID, UserID: q.UserID,
			Source: q.Source, Start: q.Start, End: q.End, Metadata: q.Metadata,
		},
		Period: q.Period,
	}
	if q.Aggregate == "stddev" {
		sq.Aggregates = []store.Aggregate{{Func: "stddev"}, {Func: "count"}}
	}
	st, err := s.st.Statistics(ctx, sq)
	if err != nil {
		return nil, fmt.Errorf("statistics of %s: %w", q.Meter, err)
	}
	out := make([]Bucket, 0, len(st))
	for _, b := range st {
		if b.Count == 0 {
			continue
		}
		v := b.Avg
		switch q.Aggregate {
		case "min":
			v = b.Min
		case "max":
			v = b.Max
		case "sum":
			v = b.Sum
		case "count":
			v = float64(b.Count)
		case "stddev":
			v = b.Aggregate["stddev"]
		}
		out = append(out, Bucket{Start: b.PeriodStart, Value: v, Count: b.Count})
	}
	slices.SortFunc(out, func(a, b Bucket) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// Resources implements Source.
func (s *StoreSource) Resources(ctx context.Context, projectID, meter string, limit int) ([]ResourceInfo, error) {
	if projectID == "" {
		return nil, errors.New("resources: no project scope")
	}
	rs, err := s.st.Resources(ctx, store.Filter{ProjectID: projectID, Meter: meter}, store.ListOptions{Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("resources of %s: %w", meter, err)
	}
	out := make([]ResourceInfo, len(rs))
	for i, r := range rs {
		out[i] = ResourceInfo{ID: r.ResourceID, ProjectID: r.ProjectID, UserID: r.UserID, Started: r.FirstSample, Metadata: r.Metadata}
	}
	return out, nil
}

// Granularities implements Source: the archives of the policy the first
// matching rule names (the first policy when none matches), finest first.
func (s *StoreSource) Granularities(meter string) []time.Duration {
	p := &s.policies[0]
	for _, r := range s.rules {
		if ok, _ := path.Match(r.Pattern, meter); ok {
			if i := slices.IndexFunc(s.policies, func(p series.Policy) bool { return p.Name == r.Policy }); i >= 0 {
				p = &s.policies[i]
				break
			}
		}
	}
	out := make([]time.Duration, len(p.Archives))
	for i, a := range p.Archives {
		out[i] = a.Granularity
	}
	slices.Sort(out)
	return out
}

// ResourceProject implements Source.
func (s *StoreSource) ResourceProject(ctx context.Context, resourceID string) (string, bool, error) {
	r, err := s.st.Resource(ctx, resourceID, "")
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("resource %s: %w", resourceID, err)
	}
	return r.ProjectID, true, nil
}
