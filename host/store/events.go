package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/altimeter/altimeter/host/store/index"
	"github.com/altimeter/altimeter/sdk/sample"
)

// Event filters and trait descriptions are the index's: events live there.
type (
	// EventFilter selects events: type (glob), generated range [Start, End),
	// message_id, project (the tenancy scope), traits, marker, limit, sort.
	EventFilter = index.EventFilter
	// EventSort is one sort key of an event listing (generated or
	// message_id, ascending or descending).
	EventSort = index.EventSort
	// TraitFilter is one trait condition: Op is eq, ne, lt, le, gt or ge.
	TraitFilter = index.TraitFilter
	// TraitDesc is a trait name with its type.
	TraitDesc = index.TraitDesc
)

// The keys an event listing sorts by.
const (
	EventSortGenerated = index.EventSortGenerated
	EventSortMessageID = index.EventSortMessageID
)

// EventReader is what the events API reads through. project, when set,
// confines every call to that project's events.
type EventReader interface {
	Events(ctx context.Context, f EventFilter) ([]sample.Event, error)
	Event(ctx context.Context, messageID, project string) (sample.Event, error)
	EventTypes(ctx context.Context, project string, o ListOptions) ([]string, error)
	TraitDescriptions(ctx context.Context, eventType, project string, o ListOptions) ([]TraitDesc, error)
	Traits(ctx context.Context, eventType, trait, project string, limit int) ([]sample.Trait, error)
}

// EventWriter is what the store publisher writes events through. Events
// whose message_id is stored are skipped (dedup).
type EventWriter interface {
	WriteEvents(ctx context.Context, evs []sample.Event) error
}

var (
	_ EventReader = (*Store)(nil)
	_ EventWriter = (*Store)(nil)
)

// EventProject is the project an event belongs to, as Panko reads it: its
// project_id trait, else tenant_id.
func EventProject(ev sample.Event) string {
	tenant := ""
	for _, t := range ev.Traits {
		switch t.Name {
		case "project_id":
			if t.Text != "" {
				return t.Text
			}
		case "tenant_id":
			tenant = t.Text
		}
	}
	return tenant
}

// ValidateEvent rejects an event the store cannot keep; the error wraps
// ErrInvalid.
func ValidateEvent(ev *sample.Event) error {
	switch {
	case ev.MessageID == "":
		return fmt.Errorf("%w: event without message_id", ErrInvalid)
	case ev.EventType == "":
		return fmt.Errorf("%w: event %s without event_type", ErrInvalid, ev.MessageID)
	case ev.Generated.IsZero():
		return fmt.Errorf("%w: event %s without generated time", ErrInvalid, ev.MessageID)
	}
	return nil
}

// WriteEvents stores events (one transaction), skipping those already
// stored.
func (s *Store) WriteEvents(ctx context.Context, evs []sample.Event) error {
	for i := range evs {
		if err := ValidateEvent(&evs[i]); err != nil {
			return err
		}
	}
	if len(evs) == 0 {
		return nil
	}
	if err := s.guard.Check(); err != nil {
		return fmt.Errorf("write events: %w: %w", ErrUnavailable, err)
	}
	if _, err := s.index.InsertEvents(ctx, evs, EventProject); err != nil {
		if errors.Is(err, index.ErrInvalid) {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return fmt.Errorf("write events: %w", s.writeErr(err))
	}
	return nil
}

func mapIndexErr(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, index.ErrNotFound):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case errors.Is(err, index.ErrInvalid):
		return fmt.Errorf("%s: %w: %v", what, ErrInvalid, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Events lists events matching f, oldest first unless f.Sort says otherwise.
func (s *Store) Events(ctx context.Context, f EventFilter) ([]sample.Event, error) {
	if f.Limit <= 0 {
		f.Limit = DefaultLimit
	}
	evs, err := s.index.Events(ctx, f)
	return evs, mapIndexErr("list events", err)
}

// Event returns one event by message_id; project, when set, must own it.
func (s *Store) Event(ctx context.Context, messageID, project string) (sample.Event, error) {
	evs, err := s.index.Events(ctx, EventFilter{MessageID: messageID, Project: project, Limit: 1})
	if err != nil {
		return sample.Event{}, mapIndexErr("event "+messageID, err)
	}
	if len(evs) == 0 {
		return sample.Event{}, fmt.Errorf("event %s: %w", messageID, ErrNotFound)
	}
	return evs[0], nil
}

// EventTypes lists the event types stored (of project, when set), sorted:
// o.Limit of them (DefaultLimit when not positive), after the type
// o.Marker when set.
func (s *Store) EventTypes(ctx context.Context, project string, o ListOptions) ([]string, error) {
	ts, err := s.index.EventTypes(ctx, project, listLimit(o.Limit), o.Marker)
	return ts, mapIndexErr("list event types", err)
}

// TraitDescriptions lists the traits (name and type) events of eventType
// have, sorted by name: the types of o.Limit names (DefaultLimit when not
// positive), after the name o.Marker when set.
func (s *Store) TraitDescriptions(ctx context.Context, eventType, project string, o ListOptions) ([]TraitDesc, error) {
	ds, err := s.index.TraitDescriptions(ctx, eventType, project, listLimit(o.Limit), o.Marker)
	return ds, mapIndexErr("list traits of "+eventType, err)
}

// Traits lists the values of one trait over events of eventType, in event
// order: the first limit (DefaultLimit when not positive).
func (s *Store) Traits(ctx context.Context, eventType, trait, project string, limit int) ([]sample.Trait, error) {
	ts, err := s.index.Traits(ctx, eventType, trait, project, listLimit(limit))
	return ts, mapIndexErr("list trait "+trait+" of "+eventType, err)
}

// listLimit is the rows a listing returns for limit: DefaultLimit when it
// is not positive.
func listLimit(limit int) int {
	if limit <= 0 {
		return DefaultLimit
	}
	return limit
}
