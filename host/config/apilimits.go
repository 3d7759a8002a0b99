package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// APILimits are the api block's bounds on the work of one request; a zero
// field means the API's default (host/api Limits).
type APILimits struct {
	// MaxLimit (max_limit) is the largest limit a listing accepts.
	MaxLimit int
	// MaxMetadataBytes (max_metadata_bytes) bounds the resource_metadata
	// of one posted sample, in bytes of JSON.
	MaxMetadataBytes int
	// MaxQueryLeaves (max_query_leaves) bounds the conditions of a query.
	MaxQueryLeaves int
	// MaxGroups (max_groups) bounds the groups of a statistics answer.
	MaxGroups int
	// MaxBuckets (max_buckets) bounds the buckets of a statistics answer.
	MaxBuckets int
	// QueryTimeout (query_timeout) is the deadline of a data request.
	QueryTimeout time.Duration
}

// apiLimitAttrs are the api block's limit attributes.
var apiLimitAttrs = []hcl.AttributeSchema{
	{Name: "max_limit"}, {Name: "max_metadata_bytes"}, {Name: "max_query_leaves"}, {Name: "max_groups"}, {Name: "max_buckets"}, {Name: "query_timeout"},
}

// apiLimits decodes the limit attributes of an api block.
func (l *loader) apiLimits(a *Agent, ac *hcl.BodyContent) {
	ints := []struct {
		name string
		dst  *int
	}{
		{"max_limit", &a.APILimits.MaxLimit},
		{"max_metadata_bytes", &a.APILimits.MaxMetadataBytes},
		{"max_query_leaves", &a.APILimits.MaxQueryLeaves},
		{"max_groups", &a.APILimits.MaxGroups},
		{"max_buckets", &a.APILimits.MaxBuckets},
	}
	for _, x := range ints {
		if attr, ok := ac.Attributes[x.name]; ok {
			*x.dst = l.positiveInt(attr)
		}
	}
	if attr, ok := ac.Attributes["query_timeout"]; ok {
		a.APILimits.QueryTimeout = l.duration(attr, time.Second)
	}
}
