package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/altimeter/altimeter/host/store/index"
	"github.com/altimeter/altimeter/host/store/series"
)

// This file is the store's read surface for the PromQL query API
// (host/promapi): the series catalog, a consistent multi-series read view,
// resource metadata history and per-series roll-up statistics.

// MeterNames returns the names of the stored meters, in no particular order.
func (s *Store) MeterNames() []string { return s.series.Meters() }

// SelectSeries returns the series of meter (every meter when empty) whose
// keys match passes (nil passes all), with their first and last sample
// times, in no particular order.
func (s *Store) SelectSeries(meter string, match func(*series.Key) bool) []series.Info {
	return s.series.Select(meter, "", match)
}

// View opens a consistent read view for scanning many series; the caller
// closes it.
func (s *Store) View() (*series.View, error) { return s.series.View() }

// History returns the metadata versions of a resource, oldest first; none
// (and no error) for an unknown resource.
func (s *Store) History(ctx context.Context, resourceID string) ([]index.Version, error) {
	h, err := s.index.History(ctx, resourceID)
	if errors.Is(err, index.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("metadata history of %s: %w", resourceID, err)
	}
	return h, nil
}

// SeriesStats aggregates selected series into buckets of period µs from
// start (see series.DB.Stats: roll-ups where they hold the range, raw
// samples otherwise, the same answer either way).
func (s *Store) SeriesStats(ctx context.Context, sel series.Selector, start, end, period int64) ([]series.Bucket, error) {
	return s.series.Stats(ctx, sel, start, end, period)
}
