package rawbatch

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/altimeter/altimeter/sdk/proto/altimeter/v1"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

// ErrMalformed marks a batch whose bytes are not a valid altimeter.v1.Batch.
var ErrMalformed = errors.New("malformed batch")

// Batch is an encoded altimeter.v1.Batch with its item counts. A Batch is
// never modified once built; several publishers may share one. The nil
// *Batch is the empty batch.
type Batch struct {
	data            []byte
	samples, events int
	// notes are the encoded notifications (Batch field 3, a listener's
	// raw notifications for the host's archive), split off data: they are
	// never forwarded to sinks.
	notes [][]byte
}

// Notifications returns the encoded altimeter.v1.Notification messages
// the batch carried, split off its bytes; callers must not modify them.
func (b *Batch) Notifications() [][]byte {
	if b == nil {
		return nil
	}
	return b.notes
}

// Bytes returns the encoding; callers must not modify it.
func (b *Batch) Bytes() []byte {
	if b == nil {
		return nil
	}
	return b.data
}

// Samples is the number of samples in b.
func (b *Batch) Samples() int {
	if b == nil {
		return 0
	}
	return b.samples
}

// Events is the number of events in b.
func (b *Batch) Events() int {
	if b == nil {
		return 0
	}
	return b.events
}

// Len is the number of items (samples and events) in b.
func (b *Batch) Len() int { return b.Samples() + b.Events() }

// Parse checks data and counts its items; the Batch keeps data (no copy).
// The error wraps ErrMalformed.
func Parse(data []byte) (*Batch, error) {
	b := &Batch{data: data}
	for off := 0; off < len(data); {
		num, typ, n := consumeTag(data[off:])
		if n < 0 {
			return nil, malformed("batch", off, protowire.ParseError(n))
		}
		off += n
		switch {
		case num == 1 && typ == protowire.BytesType, num == 2 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(data[off:])
			if m < 0 {
				return nil, malformed("batch", off, protowire.ParseError(m))
			}
			item, sch := "sample", sampleSchema
			if num == 2 {
				item, sch = "event", eventSchema
			}
			if num != 1 || !plainSample(v) {
				if err := check(v, sch); err != nil {
					return nil, fmt.Errorf("%w: %s %d: %v", ErrMalformed, item, b.samples+b.events, err)
				}
			}
			if num == 1 {
				b.samples++
			} else {
				b.events++
			}
			off += m
		case num == 3 && typ == protowire.BytesType:
			v, m := protowire.ConsumeBytes(data[off:])
			if m < 0 {
				return nil, malformed("batch", off, protowire.ParseError(m))
			}
			if err := check(v, notificationSchema); err != nil {
				return nil, fmt.Errorf("%w: notification %d: %v", ErrMalformed, len(b.notes), err)
			}
			b.notes = append(b.notes, v)
			off += m
		case num <= 3:
			return nil, malformed("batch", off, fmt.Errorf("field %d has wire type %d", num, typ))
		default:
			m := protowire.ConsumeFieldValue(num, typ, data[off:])
			if m < 0 {
				return nil, malformed("batch", off, protowire.ParseError(m))
			}
			off += m
		}
	}
	if len(b.notes) > 0 {
		b.data = withoutField(data, 3)
	}
	return b, nil
}

// withoutField copies the fields of a checked message other than num.
func withoutField(data []byte, num protowire.Number) []byte {
	out := make([]byte, 0, len(data))
	for off := 0; off < len(data); {
		n, typ, tl := protowire.ConsumeTag(data[off:])
		vl := protowire.ConsumeFieldValue(n, typ, data[off+tl:])
		if n != num {
			out = append(out, data[off:off+tl+vl]...)
		}
		off += tl + vl
	}
	return out
}

// errFieldNumber is protowire's error code for an invalid field number, so
// that protowire.ParseError names it.
const errFieldNumber = -2

// consumeTag is protowire.ConsumeTag that also refuses field numbers above
// protowire.MaxValidNumber, as the proto decoder does.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, errFieldNumber
	}
	return num, typ, n
}

func malformed(where string, off int, err error) error {
	return fmt.Errorf("%w: %s at byte %d: %v", ErrMalformed, where, off, err)
}

// Decode parses b into its message form, for a host component that looks
// inside (the store publisher).
func (b *Batch) Decode() (*pb.Batch, error) {
	out := &pb.Batch{}
	if err := proto.Unmarshal(b.Bytes(), out); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return out, nil
}

// DecodeNotifications decodes notifications split off a batch
// (Batch.Notifications), for the host's archive.
func DecodeNotifications(raw [][]byte) ([]*pb.Notification, error) {
	out := make([]*pb.Notification, len(raw))
	for i, r := range raw {
		n := &pb.Notification{}
		if err := proto.Unmarshal(r, n); err != nil {
			return nil, fmt.Errorf("%w: notification %d: %v", ErrMalformed, i, err)
		}
		out[i] = n
	}
	return out, nil
}

// FromProto encodes a batch message.
func FromProto(m *pb.Batch) (*Batch, error) {
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	if len(m.GetNotifications()) > 0 {
		// Split them off as a received batch's are.
		return Parse(data)
	}
	return &Batch{data: data, samples: len(m.GetSamples()), events: len(m.GetEvents())}, nil
}

// FromSamples encodes samples (a poll's result, a transformer's flush)
// straight into bytes, without the generated messages.
func FromSamples(s []sample.Sample) (*Batch, error) {
	data, err := wire.AppendBatch(nil, &sample.Batch{Samples: s})
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	return &Batch{data: data, samples: len(s)}, nil
}

// Concat joins batches into one. The encoding of repeated fields
// concatenates, so this is a copy of the bytes, nothing decoded.
func Concat(bs []*Batch) *Batch {
	if len(bs) == 1 {
		return bs[0]
	}
	n := 0
	for _, b := range bs {
		n += len(b.Bytes())
	}
	out := &Batch{data: make([]byte, 0, n)}
	for _, b := range bs {
		out.data = append(out.data, b.Bytes()...)
		out.samples += b.Samples()
		out.events += b.Events()
	}
	return out
}

// kind is how a known field is encoded.
type kind uint8

const (
	kString kind = iota + 1
	kBytes
	kVarint
	kFixed64
	kTrait // an embedded altimeter.v1.Trait
)

var (
	sampleSchema = []kind{1: kString, 2: kVarint, 3: kString, 4: kFixed64, 5: kString, 6: kString, 7: kString,
		8: kVarint, 9: kString, 10: kString, 11: kVarint, 12: kString, 13: kString, 14: kString}
	eventSchema = []kind{1: kString, 2: kString, 3: kVarint, 4: kTrait, 5: kBytes}
	traitSchema = []kind{1: kString, 2: kString, 3: kVarint, 4: kFixed64, 5: kVarint}
	// notificationSchema is altimeter.v1.Notification (Batch field 3),
	// checked on arrival and kept encoded until the archive decodes it.
	notificationSchema = []kind{1: kString, 2: kString, 3: kString, 4: kString, 5: kString, 6: kVarint,
		7: kString, 8: kString, 9: kString, 10: kString, 11: kString, 12: kBytes, 13: kVarint}
)

// plainSample reports whether data, an altimeter.v1.Sample, is certainly
// one check accepts, checking it faster than check can: every field is a
// known one of its wire type with a one-byte tag, every string ASCII. It
// reports false when unsure (a non-ASCII string, an unknown field, a long
// varint...), and check decides.
func plainSample(data []byte) bool {
	for off := 0; off < len(data); {
		tag := data[off]
		off++
		num := tag >> 3
		if tag >= 0x80 || num == 0 || int(num) >= len(sampleSchema) {
			return false
		}
		k := sampleSchema[num]
		switch protowire.Type(tag & 7) {
		case protowire.BytesType:
			if k != kString || off >= len(data) {
				return false
			}
			n := int(data[off])
			off++
			if n >= 0x80 {
				if off >= len(data) || data[off] >= 0x80 {
					return false
				}
				n = n&0x7f | int(data[off])<<7
				off++
			}
			if n > len(data)-off || !wire.ASCII(data[off:off+n]) {
				return false
			}
			off += n
		case protowire.VarintType:
			if k != kVarint {
				return false
			}
			// Up to 9 bytes: the 10th, whose range proto limits, goes to check.
			end := min(off+9, len(data))
			for off < end && data[off] >= 0x80 {
				off++
			}
			if off == end {
				return false
			}
			off++
		case protowire.Fixed64Type:
			if k != kFixed64 || len(data)-off < 8 {
				return false
			}
			off += 8
		default:
			return false
		}
	}
	return true
}

var wireOf = [...]protowire.Type{kString: protowire.BytesType, kBytes: protowire.BytesType, kVarint: protowire.VarintType,
	kFixed64: protowire.Fixed64Type, kTrait: protowire.BytesType}

// check walks one message's fields against its schema: known fields must
// have their wire type and strings must be UTF-8 (as the proto decoder
// requires of proto3 strings); unknown fields must be well formed.
func check(data []byte, schema []kind) error {
	for off := 0; off < len(data); {
		num, typ, n := consumeTag(data[off:])
		if n < 0 {
			return fmt.Errorf("byte %d: %v", off, protowire.ParseError(n))
		}
		off += n
		var k kind
		if int(num) < len(schema) {
			k = schema[num]
		}
		if k == 0 {
			m := protowire.ConsumeFieldValue(num, typ, data[off:])
			if m < 0 {
				return fmt.Errorf("field %d: %v", num, protowire.ParseError(m))
			}
			off += m
			continue
		}
		if typ != wireOf[k] {
			return fmt.Errorf("field %d has wire type %d", num, typ)
		}
		var m int
		switch k {
		case kVarint:
			_, m = protowire.ConsumeVarint(data[off:])
		case kFixed64:
			_, m = protowire.ConsumeFixed64(data[off:])
		default:
			var v []byte
			v, m = protowire.ConsumeBytes(data[off:])
			if m >= 0 {
				switch k {
				case kString:
					if !utf8.Valid(v) {
						return fmt.Errorf("field %d: string is not valid UTF-8", num)
					}
				case kTrait:
					if err := check(v, traitSchema); err != nil {
						return fmt.Errorf("field %d: %w", num, err)
					}
				}
			}
		}
		if m < 0 {
			return fmt.Errorf("field %d: %v", num, protowire.ParseError(m))
		}
		off += m
	}
	return nil
}
