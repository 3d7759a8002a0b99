package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

// Sentinel errors; host/api maps them to status codes.
var (
	// ErrNotFound means the sample, resource, meter or event does not exist
	// (or is outside the caller's project).
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the request cannot be answered as asked (bad
	// aggregate, group-by field, period); the API answers 400.
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable means a write could not be made durable for now (the
	// disk is full, or an engine is recovering from a failed write) and
	// nothing of it was acknowledged: retry later. The API answers 503 with
	// Retry-After, the store publisher Retry. Errors for lack of disk space
	// also wrap disk.ErrNoSpace.
	ErrUnavailable = errors.New("store temporarily unavailable")
	// ErrTooManyGroups means a statistics request grouped into more than
	// its StatsQuery.MaxGroups; it wraps ErrInvalid too.
	ErrTooManyGroups = fmt.Errorf("%w: too many groups", ErrInvalid)
	// ErrTooManyBuckets means a statistics request would produce more than
	// its StatsQuery.MaxBuckets; it wraps ErrInvalid too.
	ErrTooManyBuckets = fmt.Errorf("%w: too many buckets", ErrInvalid)
)

// Sample is a stored sample: the sample as written plus the time the store
// accepted it. Metadata is the resource metadata valid at Timestamp.
type Sample struct {
	sample.Sample
	RecordedAt time.Time
}

// Filter selects samples by the fields the engines index. Zero fields do not
// filter. Project is the tenancy scope as well: the API sets it from a member
// token and the store never returns rows of another project.
type Filter struct {
	Meter      string
	ResourceID string
	ProjectID  string
	UserID     string
	Source     string
	// Start is inclusive, End exclusive; zero means unbounded.
	Start, End time.Time
	// Metadata keys are resource metadata keys without the
	// "resource_metadata." / "metadata." prefix; values must be equal.
	Metadata map[string]string
}

// Order is one ORDER BY term of a complex query.
type Order struct {
	// Field is a sample field: timestamp, counter_volume (volume),
	// counter_name (meter), resource_id, project_id, user_id, source,
	// message_id, recorded_at.
	Field string
	Desc  bool
}

// ListOptions pages and post-filters a listing.
type ListOptions struct {
	// Limit caps the rows returned; 0 means the store's default
	// (DefaultLimit). Memory is allocated for the rows found, never for
	// the limit, so a large limit costs nothing by itself.
	Limit int
	// Marker is the id of the last row of the previous page (message_id,
	// resource_id or meter_id): the listing resumes after it.
	Marker string
	// Match, when set, is applied to each candidate after Filter (the
	// residual of a complex query).
	Match func(*Sample) bool
	// OrderBy defaults to timestamp descending, then message_id.
	OrderBy []Order
	// UniqueNames, for Meters only, lists one row per meter name (its
	// first resource in order), as Ceilometer's unique=True: Limit counts
	// names, and a Marker resumes after the meter name it names.
	UniqueNames bool
}

// DefaultLimit is the number of rows a listing returns when no limit is given.
const DefaultLimit = 1000

// Meter is one (meter, resource) pair, as Ceilometer's /v2/meters lists.
type Meter struct {
	MeterID    string // base64 of "<resource_id>+<name>", as Ceilometer
	Name       string
	Type       sample.Type
	Unit       string
	ResourceID string
	ProjectID  string
	UserID     string
	Source     string
}

// Resource is an entry of the resource index.
type Resource struct {
	ResourceID  string
	ProjectID   string
	UserID      string
	Source      string
	FirstSample time.Time
	LastSample  time.Time
	// Metadata is the latest resource metadata.
	Metadata map[string]string
	// Meters are the names of the meters the resource has samples of.
	Meters []string
}

// Aggregate is one aggregate= term of a statistics request: Func is avg,
// sum, min, max, count, stddev or cardinality; Param is the field of
// cardinality (resource_id, project_id or user_id).
type Aggregate struct {
	Func  string
	Param string
}

// StatsQuery is a statistics request for one meter.
type StatsQuery struct {
	Filter Filter // Filter.Meter is required
	// Period is the bucket width; 0 means one bucket over the whole range.
	// Buckets start at Filter.Start, or at the first sample when unset.
	Period time.Duration
	// GroupBy fields: resource_id, project_id, user_id, source and
	// resource_metadata.<key>.
	GroupBy []string
	// Aggregates; empty means the standard set (count, min, max, sum, avg).
	Aggregates []Aggregate
	// MaxGroups, when positive, bounds the groups GroupBy may produce:
	// past it Statistics stops and returns ErrTooManyGroups.
	MaxGroups int
	// MaxBuckets, when positive, bounds the buckets of an answer: the
	// periods of the range (from Filter.Start, or the first sample, to
	// Filter.End, or the last) are refused before anything is read when
	// there are more, and the buckets with samples across every group are
	// counted as they fill; past it Statistics returns ErrTooManyBuckets.
	MaxBuckets int
}

// Statistics is one bucket of one group, in Ceilometer's shape.
type Statistics struct {
	GroupBy       map[string]string
	Unit          string
	Count         int64
	Min, Max      float64
	Sum, Avg      float64
	Period        time.Duration
	PeriodStart   time.Time
	PeriodEnd     time.Time
	DurationStart time.Time // first sample in the bucket
	DurationEnd   time.Time // last sample in the bucket
	// Aggregate holds the requested non-standard aggregates, keyed as
	// Ceilometer keys them ("stddev", "cardinality/resource_id").
	Aggregate map[string]float64
}

// Reader is what the REST API reads through.
type Reader interface {
	Samples(ctx context.Context, f Filter, o ListOptions) ([]Sample, error)
	// Sample returns one sample by message_id; project, when set, scopes it.
	Sample(ctx context.Context, messageID, project string) (Sample, error)
	Meters(ctx context.Context, f Filter, o ListOptions) ([]Meter, error)
	Resources(ctx context.Context, f Filter, o ListOptions) ([]Resource, error)
	Resource(ctx context.Context, resourceID, project string) (Resource, error)
	Statistics(ctx context.Context, q StatsQuery) ([]Statistics, error)
}

// Writer is what the store publisher and POST /v2/meters/{name} write
// through. Write returns once the samples are durable; samples whose
// message_id is already stored are skipped (dedup) without error.
type Writer interface {
	Write(ctx context.Context, samples []sample.Sample) error
}
