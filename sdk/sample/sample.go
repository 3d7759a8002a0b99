package sample

import (
	"fmt"
	"time"
)

// Type says how a sample's volume evolves over time.
type Type uint8

// The sample types, as in Ceilometer.
const (
	TypeUnspecified Type = iota
	Gauge
	Delta
	Cumulative
)

// String returns the Ceilometer name of t.
func (t Type) String() string {
	switch t {
	case Gauge:
		return "gauge"
	case Delta:
		return "delta"
	case Cumulative:
		return "cumulative"
	}
	return "unspecified"
}

// ParseType parses "gauge", "delta" or "cumulative".
func ParseType(s string) (Type, error) {
	switch s {
	case "gauge":
		return Gauge, nil
	case "delta":
		return Delta, nil
	case "cumulative":
		return Cumulative, nil
	}
	return TypeUnspecified, fmt.Errorf("unknown sample type %q (want gauge, delta or cumulative)", s)
}

// Sample is one measurement.
type Sample struct {
	Name       string
	Type       Type
	Unit       string
	Volume     float64
	ResourceID string
	ProjectID  string
	UserID     string
	Timestamp  time.Time
	Source     string
	// MessageID is the deduplication key: a sample whose MessageID is
	// already stored in its project is a duplicate (ids never collide
	// across projects). Set it only when the sample's source
	// gives it a natural unique id that a redelivery repeats: an oslo
	// notification's message_id (or, for several samples from one
	// notification, an id derived from it), a Ceilometer JSON sample's
	// message_id. Leave it empty otherwise (a pollster's reading, an Influx
	// line): the store then keys the sample by its series (Name, Type,
	// Unit, ResourceID, ProjectID, UserID, Source) and Timestamp, to the
	// microsecond, and gives it the canonical id of both, so the same
	// measurement delivered twice is stored once. A random id (NewMessageID)
	// would store it twice, and two different samples of one series at the
	// same microsecond need distinct timestamps, not random ids.
	MessageID string
	// MonotonicTime is optional (zero when unset); rates prefer it to Timestamp.
	MonotonicTime time.Duration
	// Metadata is resource metadata as a flat map with dotted keys
	// (flavor.name, host, state). Values are text as Ceilometer's API
	// shows them: a JSON value is kept as Python's str() of it ("True",
	// "None", "[1, 2]"; FlattenMetadata does it).
	Metadata map[string]string
	// Signature is the optional HMAC-SHA256 of the sample, as Ceilometer
	// computes it (see ComputeSignature).
	Signature string
}

// Batch is what crosses process boundaries: many samples and events at once.
type Batch struct {
	Samples []Sample
	Events  []Event
	// Notifications are raw notifications for the host's archive (a
	// listener with an archive); the host stores them durably before it
	// answers and does not pass them to sinks.
	Notifications []Notification
}

// Notification is one consumed notification kept raw, with the envelope
// fields an archive indexes.
type Notification struct {
	MessageID   string
	EventType   string
	Priority    string
	PublisherID string
	// Host is the part of PublisherID after its first '.' (oslo's
	// "<service>.<host>"), or empty.
	Host       string
	Timestamp  time.Time
	RequestID  string
	ProjectID  string
	UserID     string
	ResourceID string // the instance, volume or other resource uuid of the payload
	// Reason is why the mapping made nothing of the notification, or why it
	// was dead-lettered; empty when it was mapped.
	Reason string
	// Raw is the notification's JSON text.
	Raw []byte
	// Expires is when the archive may drop it.
	Expires time.Time
}

// Len returns the number of samples and events in b (notifications for the
// archive are not counted).
func (b *Batch) Len() int { return len(b.Samples) + len(b.Events) }

// MeterInfo describes a meter a pollster or listener can produce.
type MeterInfo struct {
	Name        string
	Type        Type
	Unit        string
	Description string
}

// Resource is something a pollster polls: an instance, an SNMP target, a URL.
type Resource struct {
	ID        string
	ProjectID string
	UserID    string
	// Endpoint is where to reach the resource, for central pollsters
	// (snmp://host:161, https://...); empty for local ones.
	Endpoint string
	Metadata map[string]string
}
