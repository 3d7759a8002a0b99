package rule

import (
	"context"
	"time"
)

// Source is what evaluation reads from the store. Every call is scoped to
// one project: a rule reads only its alarm's project's data.
type Source interface {
	// Statistics returns the non-empty buckets of q.Aggregate over the
	// samples of q.Meter matching q's filters in [q.Start, q.End),
	// bucketed every q.Period from q.Start, ordered by start.
	Statistics(ctx context.Context, q StatsQuery) ([]Bucket, error)
	// Resources lists the project's resources that have samples of meter,
	// at most limit of them (for the by-resources rule's search).
	Resources(ctx context.Context, projectID, meter string, limit int) ([]ResourceInfo, error)
	// Granularities returns the roll-up granularities of meter's archive
	// policy (a gnocchi rule's granularity must be one of them).
	Granularities(meter string) []time.Duration
	// ResourceProject returns the project owning a resource; found is
	// false when the store has no such resource.
	ResourceProject(ctx context.Context, resourceID string) (project string, found bool, err error)
}

// PromQLSource is optional: a Source that can run an instant PromQL query
// over one project's data evaluates prometheus rules.
type PromQLSource interface {
	// Instant returns the sample values of query's result at t.
	Instant(ctx context.Context, projectID, query string, t time.Time) ([]float64, error)
}

// StatsQuery is one statistics request of a rule.
type StatsQuery struct {
	ProjectID  string // required: the alarm's project
	Meter      string
	ResourceID string
	UserID     string
	Source     string
	// Metadata filters on resource metadata (keys without prefix).
	Metadata   map[string]string
	Start, End time.Time
	Period     time.Duration
	// Aggregate is avg, min, max, sum, count or stddev.
	Aggregate string
}

// Bucket is one period's value of the requested aggregate, with the number
// of samples it aggregates (exclude_outliers weighs buckets by it).
type Bucket struct {
	Start time.Time
	Value float64
	Count int64
}
