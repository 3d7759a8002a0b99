package notification

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/altimeter/altimeter/sdk/sample"
)

// Notification is one oslo.messaging notification as the listener decodes
// it. The engines read it and never modify it, so one value may be handed to
// meters and events concurrently.
type Notification struct {
	MessageID   string
	PublisherID string
	EventType   string
	// Priority is the oslo priority in any case ("INFO", "error"); empty
	// means info.
	Priority  string
	Timestamp time.Time
	// Payload is the decoded JSON payload (map[string]any, []any, string,
	// float64 or json.Number, bool or nil).
	Payload any
	// Raw is the whole decoded message: the flattened context fields
	// (_context_user_id, _context_request_id, ...), publisher_id, payload
	// and the rest. It may be nil.
	Raw map[string]any

	// doc is the Document PrepareDocument computed, or nil.
	doc map[string]any
}

// PrepareDocument computes n's Document once, so that the engines that
// read n (meters, events) share it instead of each building its own. Call
// it once n is complete and before handing n to them; n must not be
// modified afterwards (its fields are then ignored by Document).
func (n *Notification) PrepareDocument() {
	n.doc = nil
	n.doc = n.Document()
}

// ErrNoMatch says that no definition applies to a notification (its
// event_type matches none, or its priority is not one the engine handles).
// It is the common case for most notifications, to be counted, not logged
// as a failure.
var ErrNoMatch = errors.New("no definition matches")

// MappingError says why a definition that applies to a notification
// produced nothing: a missing field, a value of the wrong type, a bad
// timestamp. The listener can count it by Definition or dead-letter the
// notification.
type MappingError struct {
	// Definition names the definition: `meter "memory"` or
	// `event "compute.instance.*"`.
	Definition string
	// Field is the attribute or trait at fault; empty when the reason is
	// about the whole definition.
	Field string
	// Reason says what went wrong, in a short lowercase phrase.
	Reason string
}

// Error implements error.
func (e *MappingError) Error() string {
	if e.Field == "" {
		return e.Definition + ": " + e.Reason
	}
	return e.Definition + ": " + e.Field + ": " + e.Reason
}

// NormalizedPriority returns n's priority in lower case, "info" when unset.
func (n *Notification) NormalizedPriority() string {
	if n.Priority == "" {
		return "info"
	}
	return strings.ToLower(n.Priority)
}

// Time returns when n was emitted: Timestamp, or the message's own
// "timestamp" field when Timestamp is zero.
func (n *Notification) Time() (time.Time, error) {
	if !n.Timestamp.IsZero() {
		return n.Timestamp.UTC(), nil
	}
	s, ok := n.Raw["timestamp"].(string)
	if !ok {
		return time.Time{}, errors.New("notification has no timestamp")
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("notification timestamp: %w", err)
	}
	return t, nil
}

// rawKey is where Document keeps Raw, for paths whose first key the
// document lacks.
const rawKey = "\x00raw"

// Document returns the value definitions are evaluated against. It has the
// shape of Ceilometer's notification body (event_type, publisher_id,
// priority, payload, ctxt with the _context_ prefix removed, metadata with
// message_id and timestamp). A path whose first key is none of these is
// looked up in Raw, so definitions written for the pre-Newton flat form
// ($._context_user) keep working. The result shares Payload and Raw's
// values; do not modify it.
func (n *Notification) Document() map[string]any {
	if n.doc != nil {
		return n.doc
	}
	payload := n.Payload
	if payload == nil {
		payload = n.Raw["payload"]
	}
	ts := ""
	if t, err := n.Time(); err == nil {
		ts = sample.FormatISOTime(t)
	}
	return map[string]any{
		"event_type":   n.EventType,
		"publisher_id": n.PublisherID,
		"priority":     strings.ToUpper(n.NormalizedPriority()),
		"payload":      payload,
		"ctxt":         n.context(),
		"metadata":     map[string]any{"message_id": n.MessageID, "timestamp": ts},
		rawKey:         n.Raw,
	}
}

// Body returns Ceilometer's notification body for n (what an event stores
// as its raw form): ctxt, event_type, metadata, payload, priority and
// publisher_id.
func (n *Notification) Body() map[string]any {
	d := maps.Clone(n.Document())
	delete(d, rawKey)
	return d
}

// context returns the request context of n: Raw["ctxt"] when the message
// carries it as an object, else the _context_* fields without the prefix.
func (n *Notification) context() map[string]any {
	if c, ok := n.Raw["ctxt"].(map[string]any); ok {
		return c
	}
	c := make(map[string]any, len(n.Raw))
	for k, v := range n.Raw {
		if len(k) > 9 && k[:9] == "_context_" {
			c[k[9:]] = v
		}
	}
	return c
}

// namespace is the UUIDv5 namespace of derived message IDs.
var namespace = [16]byte{0x6b, 0x1d, 0x4e, 0x2a, 0x93, 0x5c, 0x4f, 0x0e, 0xa1, 0x7d, 0x3c, 0x58, 0x20, 0x9e, 0xb4, 0x61}

// DerivedID returns a name-based (version 5) UUID of parts, so that the
// same notification delivered twice gives samples with the same message ID
// and stores deduplicate them.
func DerivedID(parts ...string) string {
	var buf [256]byte
	b := append(buf[:0], namespace[:]...)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	sum := sha1.Sum(b)
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], sum[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], sum[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], sum[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], sum[8:10])
	out[23] = '-'
	hex.Encode(out[24:], sum[10:16])
	return string(out[:])
}

// FromMessage builds a Notification from a decoded oslo.messaging message
// (the "oslo.message" of a version 2 envelope, or a version 1 body):
// message_id, publisher_id, event_type, priority, timestamp, payload and
// the flattened _context_ fields. event_type is required; a timestamp that
// is present must parse.
func FromMessage(m map[string]any) (*Notification, error) {
	n := &Notification{Payload: m["payload"], Raw: m}
	for key, dst := range map[string]*string{
		"message_id": &n.MessageID, "publisher_id": &n.PublisherID,
		"event_type": &n.EventType, "priority": &n.Priority,
	} {
		switch v := m[key].(type) {
		case string:
			*dst = v
		case nil:
		default:
			return nil, fmt.Errorf("decode notification: %s: want a string, got %s", key, describe(v))
		}
	}
	if n.EventType == "" {
		return nil, errors.New("decode notification: no event_type")
	}
	switch v := m["timestamp"].(type) {
	case string:
		t, err := ParseTime(v)
		if err != nil {
			return nil, fmt.Errorf("decode notification: timestamp: %w", err)
		}
		n.Timestamp = t
	case nil:
	default:
		return nil, fmt.Errorf("decode notification: timestamp: want a string, got %s", describe(v))
	}
	return n, nil
}
