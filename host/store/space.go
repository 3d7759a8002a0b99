package store

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/altimeter/altimeter/host/store/disk"
	"github.com/altimeter/altimeter/host/store/series"
)

// DefaultMinFree is the free space below which the store refuses writes
// unless Options.MinFree says otherwise: room for Pebble to flush a full
// 64 MiB memtable and compact while the writes already under way finish.
const DefaultMinFree = 256 << 20

// writeErr marks an engine's write error that is worth retrying as
// ErrUnavailable: the disk is full (the guard then refuses further writes
// until space is back), or the time-series engine is reopening after a
// failed write.
func (s *Store) writeErr(err error) error {
	switch {
	case disk.IsNoSpace(err):
		s.guard.Failed(err)
		if !errors.Is(err, disk.ErrNoSpace) {
			err = fmt.Errorf("%w: %w", disk.ErrNoSpace, err)
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.Is(err, series.ErrBroken):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// Collector exposes the store's disk-space metrics
// (altimeter_store_disk_free_bytes, altimeter_store_disk_min_free_bytes,
// altimeter_store_disk_full, altimeter_store_writes_refused_total).
func (s *Store) Collector() prometheus.Collector { return s.guard }
