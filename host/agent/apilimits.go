package agent

import (
	"github.com/altimeter/altimeter/host/api"
	"github.com/altimeter/altimeter/host/config"
)

// apiLimits adapts the api block's limits to the API's (zero fields take
// the API's defaults).
func apiLimits(l config.APILimits) api.Limits {
	return api.Limits{
		MaxLimit: l.MaxLimit, MaxMetadataBytes: l.MaxMetadataBytes, MaxQueryLeaves: l.MaxQueryLeaves,
		MaxGroups: l.MaxGroups, MaxBuckets: l.MaxBuckets, QueryTimeout: l.QueryTimeout,
	}
}
