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
// altimeter_store_disk_full, altimeter_store_writes_refused_total) and
// altimeter_store_samples_not_stored_total{reason}: samples refused for
// naming another project's resource (resource_conflict) or skipped for
// being older than their series' out-of-order window (too_old).
func (s *Store) Collector() prometheus.Collector { return storeCollector{s} }

type storeCollector struct{ s *Store }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	c.s.guard.Describe(ch)
	c.s.notStored.Describe(ch)
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.guard.Collect(ch)
	c.s.notStored.Collect(ch)
}

// newNotStored is the counter of samples not stored, by reason.
func newNotStored() *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "altimeter_store_samples_not_stored_total",
		Help: "Samples not stored: naming another project's resource (resource_conflict) or older than their series' out-of-order window (too_old).",
	}, []string{"reason"})
	v.WithLabelValues("resource_conflict")
	v.WithLabelValues("too_old")
	return v
}
