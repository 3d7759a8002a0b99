package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/altimeter/altimeter/internal/notification"
	"github.com/altimeter/altimeter/internal/notification/events"
	"github.com/altimeter/altimeter/internal/notification/meters"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/schema"
)

// definitions maps notifications with Ceilometer's meter and event
// definitions (internal/notification). Safe for concurrent use.
type definitions struct {
	meters []*meters.Definitions
	events *events.Definitions // nil when events are not stored
}

var _ mapper = (*definitions)(nil)

// loadMapper compiles the configured definition files, or takes the
// built-in ones.
func loadMapper(s *settings) (mapper, error) {
	d := &definitions{}
	var errs []error
	if len(s.MeterDefinitions) == 0 && len(s.Meters) == 0 {
		d.meters = []*meters.Definitions{meters.Default()}
	}
	if hm, err := compileMeterBlocks(s.Meters); err != nil {
		errs = append(errs, err)
	} else {
		d.meters = append(d.meters, hm...)
	}
	for _, path := range s.MeterDefinitions {
		src, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, schema.AttrError("meter_definitions", err.Error()))
			continue
		}
		m, err := meters.Parse(src, path)
		if err != nil {
			errs = append(errs, schema.AttrError("meter_definitions", err.Error()))
			continue
		}
		d.meters = append(d.meters, m)
	}
	if s.LegacyMeters {
		d.meters = append(d.meters, meters.Legacy())
	}
	if s.StoreEvents {
		opts := []events.Option{events.StoreRaw(s.StoreRaw...)}
		if s.DropUnmatchedEvents {
			opts = append(opts, events.DropUnmatched())
		}
		if s.EventDefinitions == "" {
			d.events = events.Default(opts...)
		} else if src, err := os.ReadFile(s.EventDefinitions); err != nil {
			errs = append(errs, schema.AttrError("event_definitions", err.Error()))
		} else if d.events, err = events.Parse(src, s.EventDefinitions, opts...); err != nil {
			errs = append(errs, schema.AttrError("event_definitions", err.Error()))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d, nil
}

// Samples runs every meter definition file on n. A definition that matches
// but fails is reported in the error, next to the samples the others made.
func (d *definitions) Samples(n *notification.Notification) ([]sample.Sample, error) {
	var (
		out  []sample.Sample
		errs []error
	)
	for _, m := range d.meters {
		got, err := m.Samples(n)
		out = append(out, got...)
		if err != nil && !errors.Is(err, notification.ErrNoMatch) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("meter definitions: %w", errors.Join(errs...))
	}
	return out, nil
}

// Event runs the event definitions on n, when events are stored.
func (d *definitions) Event(n *notification.Notification) (sample.Event, bool, error) {
	if d.events == nil {
		return sample.Event{}, false, nil
	}
	ev, ok, err := d.events.Event(n)
	if err != nil {
		return ev, false, fmt.Errorf("event definitions: %w", err)
	}
	return ev, ok, nil
}
