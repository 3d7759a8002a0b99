package wire

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
)

// ErrMalformed marks bytes that are not a valid altimeter.v1 message.
var ErrMalformed = errors.New("malformed message")

// The interning table's bounds: a string longer than internMaxLen is never
// interned, and the table is emptied when it holds internMaxEntries.
const (
	internMaxEntries = 8192
	internMaxLen     = 128
)

// Decoder decodes altimeter.v1.Batch bytes straight into package sample's
// types, with the result protobuf's decoder and BatchFromProto give, without
// the generated messages in between. Strings that repeat from item to item
// (names, units, ids of resources, projects and users, metadata, event
// types, trait names) are interned in a bounded table kept across batches,
// so a repeated value costs a lookup instead of an allocation; message ids,
// signatures and trait texts are not (a trait's text equal to the previous
// event's at the same position is that string again). The decoded strings
// never share memory with the input. A Decoder is safe for
// concurrent use (calls are serialised); the zero value is ready.
type Decoder struct {
	mu     sync.Mutex
	intern map[string]string
	// Metadata scratch: this sample's lists and the previous sample's,
	// whose strings are reused when equal at the same position.
	keys, values         []string
	prevKeys, prevValues []string
	// The previous event's traits, whose text is reused when equal at the
	// same position (event.go).
	prevTraits []sample.Trait
}

func malformed(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
}

// consumeTag is protowire.ConsumeTag refusing field numbers above
// protowire.MaxValidNumber, as protobuf's decoder does.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -1
	}
	return num, typ, n
}

// skip consumes a field this decoder does not read (protobuf keeps those as
// unknown fields, which the sample types drop).
func skip(num protowire.Number, typ protowire.Type, b []byte) int {
	return protowire.ConsumeFieldValue(num, typ, b)
}

// Batch decodes data (an encoded altimeter.v1.Batch) into dst. Errors wrap
// ErrMalformed.
func (d *Decoder) Batch(data []byte, dst *sample.Batch) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	*dst = sample.Batch{}
	var err error
	dst.Samples, _, err = d.batch(data, dst.Samples, nil, dst)
	return err
}

// Samples decodes the samples of data (an encoded altimeter.v1.Batch),
// appending them to dst, and appends its events, as the field records they
// are on the wire, to events: a transformer passes those on untouched. The
// events are checked as protobuf's decoder would. Notifications and unknown
// fields are dropped. Errors wrap ErrMalformed.
func (d *Decoder) Samples(data []byte, dst []sample.Sample, events []byte) ([]sample.Sample, []byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.batch(data, dst, events, nil)
}

// batch decodes data; with full set, events and notifications are decoded
// into it, otherwise events are kept raw.
func (d *Decoder) batch(data []byte, out []sample.Sample, rawEvents []byte, full *sample.Batch) ([]sample.Sample, []byte, error) {
	first := len(out)
	out = slices.Grow(out, countSamples(data))
	for off := 0; off < len(data); {
		num, typ, n := consumeTag(data[off:])
		if n < 0 {
			return out, rawEvents, malformed(fmt.Sprintf("batch at byte %d", off), protowire.ParseError(n))
		}
		start := off
		off += n
		if typ != protowire.BytesType || num < 1 || num > 3 {
			m := skip(num, typ, data[off:])
			if m < 0 {
				return out, rawEvents, malformed(fmt.Sprintf("batch at byte %d", off), protowire.ParseError(m))
			}
			off += m
			continue
		}
		v, m := protowire.ConsumeBytes(data[off:])
		if m < 0 {
			return out, rawEvents, malformed(fmt.Sprintf("batch at byte %d", off), protowire.ParseError(m))
		}
		off += m
		switch num {
		case 1:
			out = append(out, sample.Sample{})
			var prev *sample.Sample
			if i := len(out) - 1; i > first {
				prev = &out[i-1]
			}
			if err := d.sample(v, &out[len(out)-1], prev); err != nil {
				return out[:len(out)-1], rawEvents, fmt.Errorf("sample %d: %w", len(out)-1-first, err)
			}
		case 2:
			if full == nil {
				var e pb.Event
				if err := proto.Unmarshal(v, &e); err != nil {
					return out, rawEvents, malformed("event", err)
				}
				rawEvents = append(rawEvents, data[start:off]...)
				continue
			}
			var ev sample.Event
			if err := d.event(v, &ev); err != nil {
				return out, rawEvents, fmt.Errorf("event %d: %w", len(full.Events), err)
			}
			full.Events = append(full.Events, ev)
		case 3:
			if full == nil {
				continue
			}
			var x pb.Notification
			if err := proto.Unmarshal(v, &x); err != nil {
				return out, rawEvents, malformed("notification", err)
			}
			full.Notifications = append(full.Notifications, NotificationFromProto(&x))
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return out, rawEvents, nil
}

// countSamples counts the sample fields of a batch, as far as it parses.
func countSamples(data []byte) int {
	n := 0
	for off := 0; off < len(data); {
		num, typ, m := consumeTag(data[off:])
		if m < 0 {
			return n
		}
		off += m
		if m = skip(num, typ, data[off:]); m < 0 {
			return n
		}
		off += m
		if num == 1 && typ == protowire.BytesType {
			n++
		}
	}
	return n
}

// sampleFieldType is the wire type of each altimeter.v1.Sample field; a
// field with another wire type is unknown to protobuf's decoder.
func sampleFieldType(num protowire.Number) (protowire.Type, bool) {
	switch num {
	case 1, 3, 5, 6, 7, 9, 10, 12, 13, 14:
		return protowire.BytesType, true
	case 2, 8, 11:
		return protowire.VarintType, true
	case 4:
		return protowire.Fixed64Type, true
	}
	return 0, false
}

// sample decodes one altimeter.v1.Sample into s; prev (may be nil) is the
// sample before it in the batch, whose strings are reused when equal.
func (d *Decoder) sample(b []byte, s *sample.Sample, prev *sample.Sample) error {
	if prev == nil {
		prev = &sample.Sample{}
		d.keys, d.values = d.keys[:0], d.values[:0]
	}
	d.prevKeys, d.keys = d.keys, d.prevKeys[:0]
	d.prevValues, d.values = d.values, d.prevValues[:0]
	for off := 0; off < len(b); {
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return malformed(fmt.Sprintf("sample at byte %d", off), protowire.ParseError(n))
		}
		off += n
		if want, known := sampleFieldType(num); !known || want != typ {
			m := skip(num, typ, b[off:])
			if m < 0 {
				return malformed(fmt.Sprintf("sample at byte %d", off), protowire.ParseError(m))
			}
			off += m
			continue
		}
		var m int
		switch typ {
		case protowire.BytesType:
			var v []byte
			v, m = protowire.ConsumeBytes(b[off:])
			if m < 0 {
				break
			}
			var err error
			switch num {
			case 1, 3, 5, 6, 7, 9:
				*stringField(s, num), err = d.str(v, *stringField(prev, num))
			case 10:
				s.MessageID, err = unique(v)
			case 12:
				var k string
				k, err = d.str(v, at(d.prevKeys, len(d.keys)))
				d.keys = append(d.keys, k)
			case 13:
				var x string
				x, err = d.str(v, at(d.prevValues, len(d.values)))
				d.values = append(d.values, x)
			case 14:
				s.Signature, err = unique(v)
			}
			if err != nil {
				return malformed(fmt.Sprintf("sample field %d", num), err)
			}
		case protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(b[off:])
			switch num {
			case 2:
				s.Type = sample.Type(pb.SampleType(int32(v)))
			case 8:
				s.Timestamp = fromUnixNano(int64(v))
			case 11:
				s.MonotonicTime = time.Duration(int64(v))
			}
		case protowire.Fixed64Type:
			var v uint64
			v, m = protowire.ConsumeFixed64(b[off:])
			s.Volume = math.Float64frombits(v)
		}
		if m < 0 {
			return malformed(fmt.Sprintf("sample at byte %d", off), protowire.ParseError(m))
		}
		off += m
	}
	if len(d.keys) > 0 {
		s.Metadata = make(map[string]string, len(d.keys))
		for i, k := range d.keys {
			if i < len(d.values) {
				s.Metadata[k] = d.values[i]
			}
		}
	}
	return nil
}

// stringField is the field of s that Sample field num (one whose values
// repeat) decodes into.
func stringField(s *sample.Sample, num protowire.Number) *string {
	switch num {
	case 1:
		return &s.Name
	case 3:
		return &s.Unit
	case 5:
		return &s.ResourceID
	case 6:
		return &s.ProjectID
	case 7:
		return &s.UserID
	}
	return &s.Source
}

// at is list[i], or "" past its end.
func at(list []string, i int) string {
	if i < len(list) {
		return list[i]
	}
	return ""
}

var errUTF8 = errors.New("string is not valid UTF-8")

// unique converts a string field whose values rarely repeat.
func unique(v []byte) (string, error) {
	if !utf8.Valid(v) {
		return "", errUTF8
	}
	return string(v), nil
}

// str converts a string field whose values repeat: the previous sample's
// value or an interned one when equal, a new string (then interned)
// otherwise.
func (d *Decoder) str(v []byte, prev string) (string, error) {
	if len(v) == 0 {
		return "", nil
	}
	if string(v) == prev {
		return prev, nil
	}
	if len(v) > internMaxLen {
		return unique(v)
	}
	if s, ok := d.intern[string(v)]; ok {
		return s, nil
	}
	s, err := unique(v)
	if err != nil {
		return "", err
	}
	if d.intern == nil {
		d.intern = make(map[string]string, 256)
	} else if len(d.intern) >= internMaxEntries {
		clear(d.intern)
	}
	d.intern[s] = s
	return s, nil
}
