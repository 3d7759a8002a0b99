package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/altimeter/altimeter/internal/intern"
	"github.com/altimeter/altimeter/internal/notification"
	"github.com/altimeter/altimeter/sdk/sample"
)

// The oslo.messaging v2 envelope keys.
const (
	envelopeVersion = "oslo.version"
	envelopeMessage = "oslo.message"
)

// The reasons a delivery is dead-lettered: the value of the
// x-altimeter-reason header and the suffix of the dead_lettered_<reason>
// counter.
const (
	reasonTooLarge     = "too_large"     // body bigger than max_message_bytes
	reasonBadJSON      = "bad_json"      // body or oslo.message is not JSON
	reasonBadEnvelope  = "bad_envelope"  // not an object, or a malformed v2 envelope
	reasonMissingField = "missing_field" // no event_type
	reasonBadField     = "bad_field"     // a field of the wrong type or a bad timestamp
	reasonBadSample    = "bad_sample"    // a sample-priority payload that is not Ceilometer samples
	reasonBadSignature = "bad_signature" // a sample whose signature does not match telemetry_secret
	reasonMapping      = "mapping"       // a meter or event definition failed on the notification
	reasonRejected     = "rejected"      // the host rejected the batch holding it
	reasonUnencodable  = "unencodable"   // it cannot be sent to the host at all (too large once mapped)
	reasonRetryLimit   = "retry_limit"   // the host asked to retry it more than max_retries times
)

// decodeError is why a body could not be turned into a notice.
type decodeError struct {
	reason string
	err    error
}

func (e *decodeError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

func decodeErr(reason string, format string, args ...any) error {
	return &decodeError{reason: reason, err: fmt.Errorf(format, args...)}
}

// notice is one decoded oslo notification: what the mapping engines read
// (with Priority in lower case and Raw the whole message, the inner one of
// a v2 envelope) and that message's JSON text.
type notice struct {
	notification.Notification
	RawJSON string
}

// decodeNotice reads an oslo notification, bare (v1) or in the v2 envelope
// whose oslo.message is the message as a JSON string. Numbers are kept as
// json.Number so that sample signatures verify as Ceilometer computed them.
// fallbackPriority (from the routing key) is used when the message names
// none; a missing message_id is derived from the body, so that redeliveries
// keep it (the store deduplicates by it); a missing timestamp is now; a
// missing payload is null.
func decodeNotice(body []byte, fallbackPriority string, now time.Time) (*notice, error) {
	top, err := decodeObject(body)
	if err != nil {
		return nil, err
	}
	msg, raw := top, string(body)
	if v, ok := top[envelopeVersion]; ok {
		if _, ok := v.(string); !ok {
			return nil, decodeErr(reasonBadEnvelope, "%s: want a string, got %s", envelopeVersion, jsonType(v))
		}
		inner, ok := top[envelopeMessage].(string)
		if !ok {
			return nil, decodeErr(reasonBadEnvelope, "%s: want a JSON string, got %s", envelopeMessage, jsonType(top[envelopeMessage]))
		}
		raw = inner
		if msg, err = decodeObjectString(raw); err != nil {
			var de *decodeError
			if errors.As(err, &de) {
				de.err = fmt.Errorf("%s: %w", envelopeMessage, de.err)
			}
			return nil, err
		}
	}
	return fromMessage(msg, raw, fallbackPriority, now)
}

// fromMessage reads the fields of a decoded oslo message whose JSON text
// is raw.
func fromMessage(msg map[string]any, raw string, fallbackPriority string, now time.Time) (*notice, error) {
	var err error
	n := &notice{RawJSON: raw}
	n.Raw = msg
	str := func(key string, dst *string) error {
		switch v := msg[key].(type) {
		case nil:
		case string:
			*dst = v
		default:
			return decodeErr(reasonBadField, "%s: want a string, got %s", key, jsonType(v))
		}
		return nil
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"message_id", &n.MessageID}, {"publisher_id", &n.PublisherID}, {"event_type", &n.EventType}, {"priority", &n.Priority}} {
		if err := str(f.key, f.dst); err != nil {
			return nil, err
		}
	}
	if n.EventType == "" {
		return nil, decodeErr(reasonMissingField, "event_type: missing")
	}
	// A missing payload is null, as oslo.messaging's dispatcher reads it
	// (message.get('payload')): Ceilometer still records the event, with
	// the default traits.
	n.Payload = msg["payload"]
	n.Priority = strings.ToLower(n.Priority)
	if n.Priority == "" {
		n.Priority = fallbackPriority
	}
	if n.MessageID == "" {
		sum := sha256.Sum256([]byte(raw))
		n.MessageID = "sha256-" + hex.EncodeToString(sum[:16])
	}
	var ts string
	if err := str("timestamp", &ts); err != nil {
		return nil, err
	}
	if ts == "" {
		n.Timestamp = now.UTC()
	} else if n.Timestamp, err = notification.ParseTime(ts); err != nil {
		return nil, decodeErr(reasonBadField, "timestamp: %v", err)
	}
	return n, nil
}

// decodeObject decodes one JSON object (and nothing after it) as
// encoding/json decodes into an any with UseNumber: objects as
// map[string]any (a repeated name keeps its last value), numbers as
// json.Number with their text as sent, invalid UTF-8 as U+FFFD. It reads
// the tokens of jsontext (the JSON v2 proposal's syntactic layer): about
// 0.6x the CPU of encoding/json's reflection-driven decode of a
// compute.instance.exists notification (BenchmarkDecodeNotice).
func decodeObject(b []byte) (map[string]any, error) {
	d := decoders.Get().(*objectDecoder)
	defer d.release()
	return d.object(b)
}

// decodeObjectString is decodeObject of the text s (the oslo.message of
// a v2 envelope), copied into the decoder's own buffer rather than into a
// new slice.
func decodeObjectString(s string) (map[string]any, error) {
	d := decoders.Get().(*objectDecoder)
	defer d.release()
	d.text = append(d.text[:0], s...)
	m, err := d.object(d.text)
	if cap(d.text) > maxKeptText {
		d.text = nil
	}
	return m, err
}

// objectDecoder is what decodeObject reuses between notifications: the
// jsontext decoder's buffers, a buffer for an envelope's inner message,
// and the object names seen so far, so a name that every notification
// repeats ("payload", "instance_id") is one string, not one per notice.
type objectDecoder struct {
	dec   jsontext.Decoder
	in    bytes.Buffer // the input, read in place
	text  []byte
	names intern.Table
}

// Bounds of what an objectDecoder keeps: names (each at most
// maxInternedName bytes) and the inner message buffer's capacity.
const (
	maxInternedNames = 4096
	maxInternedName  = 64
	maxKeptText      = 1 << 20
)

// decoders recycles objectDecoders between notifications.
var decoders = sync.Pool{New: func() any { return &objectDecoder{names: intern.New(maxInternedNames, maxInternedName)} }}

// release returns d to the pool without the input it parsed in place, so
// that a pooled decoder does not keep a notification's body alive.
func (d *objectDecoder) release() {
	d.in = bytes.Buffer{}
	d.dec.Reset(&d.in)
	decoders.Put(d)
}

func (d *objectDecoder) object(b []byte) (map[string]any, error) {
	// A bytes.Buffer is parsed in place, without a copy into the
	// decoder's own buffer. (The decoder holds b until release.)
	d.in = *bytes.NewBuffer(b)
	d.dec.Reset(&d.in, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	v, err := d.value()
	if err != nil {
		return nil, decodeErr(reasonBadJSON, "decode json: %v", err)
	}
	if _, err := d.dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, decodeErr(reasonBadJSON, "decode json: data after the top-level value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, decodeErr(reasonBadEnvelope, "want a JSON object, got %s", jsonType(v))
	}
	return m, nil
}

// value reads the next JSON value.
func (d *objectDecoder) value() (any, error) {
	dec := &d.dec
	tok, err := dec.ReadToken()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		m := make(map[string]any)
		for dec.PeekKind() != '}' {
			tok, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			name := d.names.String(tok.String()) // a token is valid until the next read
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			m[name] = v
		}
		_, err := dec.ReadToken()
		return m, err
	case '[':
		l := []any{}
		for dec.PeekKind() != ']' {
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		_, err := dec.ReadToken()
		return l, err
	case '"':
		return tok.String(), nil
	case '0':
		return json.Number(tok.String()), nil
	case 't', 'f':
		return tok.Bool(), nil
	default: // 'n'
		return nil, nil
	}
}

// ceilometerSamples reads a sample-priority payload: a list of Ceilometer
// metering messages (as the polling agent's notifier publisher sends them),
// each with a valid signature when secret is set.
func ceilometerSamples(payload any, secret string) ([]sample.Sample, error) {
	list, ok := payload.([]any)
	if !ok {
		return nil, decodeErr(reasonBadSample, "payload: want a list of samples, got %s", jsonType(payload))
	}
	out := make([]sample.Sample, 0, len(list))
	for i, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, decodeErr(reasonBadSample, "payload[%d]: want an object, got %s", i, jsonType(v))
		}
		if !sample.VerifySignature(m, secret) {
			return nil, decodeErr(reasonBadSignature, "payload[%d]: message_id %v: signature does not match", i, m[sample.CeilometerMessageID])
		}
		s, err := sample.FromCeilometer(m)
		if err != nil {
			return nil, decodeErr(reasonBadSample, "payload[%d]: %v", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// jsonType names the JSON type of a decoded value, for error messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
