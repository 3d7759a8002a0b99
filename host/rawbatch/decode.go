package rawbatch

import (
	"fmt"
	"math"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/altimeter/altimeter/internal/intern"
	"github.com/altimeter/altimeter/sdk/sample"
	"github.com/altimeter/altimeter/sdk/wire"
)

// Bounds of a Decoder's table of event types and trait names.
const (
	maxInternedNames = 4096
	maxInternedName  = 128
)

// Decoder decodes batches into package sample's types, for the host
// component that looks inside them (the store publisher), with the result
// Decode and the sdk's BatchFromProto give, without the generated messages
// in between. Samples go through wire.Decoder; events through a decoder of
// its own: an event of a listener's batch carries some twenty traits,
// which protobuf's decoder turns into three allocations each. Event types
// and trait names are interned in a bounded table kept across batches, and
// a trait's text that equals the previous event's (same position, same
// name) is that string again: events of one definition mostly repeat their
// host, state, flavor and project. No decoded string or byte slice shares
// memory with the batch. Safe for concurrent use (calls are serialised).
type Decoder struct {
	samples wire.Decoder

	mu    sync.Mutex
	names intern.Table
	// prev is the last decoded event's traits; scratch holds the sample
	// records of a batch whose samples are not contiguous.
	prev    []sample.Trait
	scratch []byte
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	return &Decoder{names: intern.New(maxInternedNames, maxInternedName)}
}

// Decode decodes b's samples and events. Errors wrap ErrMalformed (which
// a Batch, checked when built, does not give in practice).
func (d *Decoder) Decode(b *Batch) (sample.Batch, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out sample.Batch
	data := b.Bytes()
	// Split the records: the samples' bytes (one range of data when
	// contiguous, as an encoder writes them, else copied together) for
	// wire.Decoder, the events decoded here in order.
	sStart, sEnd, contiguous := -1, -1, true
	d.scratch = d.scratch[:0]
	if n := b.Events(); n > 0 {
		out.Events = make([]sample.Event, 0, n)
	}
	for off := 0; off < len(data); {
		num, typ, n := consumeTag(data[off:])
		if n < 0 {
			return sample.Batch{}, malformed("batch", off, protowire.ParseError(n))
		}
		start := off
		off += n
		m := protowire.ConsumeFieldValue(num, typ, data[off:])
		if m < 0 {
			return sample.Batch{}, malformed("batch", off, protowire.ParseError(m))
		}
		off += m
		if typ != protowire.BytesType {
			continue
		}
		switch num {
		case 1:
			switch {
			case sStart < 0:
				sStart, sEnd = start, off
			case contiguous && start == sEnd:
				sEnd = off
			default:
				if contiguous {
					d.scratch = append(d.scratch, data[sStart:sEnd]...)
					contiguous = false
				}
				d.scratch = append(d.scratch, data[start:off]...)
			}
		case 2:
			v, _ := protowire.ConsumeBytes(data[start+n:])
			ev, err := d.event(v)
			if err != nil {
				return sample.Batch{}, fmt.Errorf("%w: event %d: %v", ErrMalformed, len(out.Events), err)
			}
			out.Events = append(out.Events, ev)
		}
	}
	if sStart >= 0 {
		samples := data[sStart:sEnd]
		if !contiguous {
			samples = d.scratch
		}
		var sb sample.Batch
		if err := d.samples.Batch(samples, &sb); err != nil {
			return sample.Batch{}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		out.Samples = sb.Samples
	}
	if cap(d.scratch) > 1<<20 {
		d.scratch = nil
	}
	return out, nil
}

// event decodes one altimeter.v1.Event as protobuf's decoder and
// EventFromProto do: a repeated scalar field's last value wins, a field
// of an unexpected wire type is skipped as unknown.
func (d *Decoder) event(b []byte) (sample.Event, error) {
	var ev sample.Event
	for off := 0; off < len(b); {
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return ev, fmt.Errorf("byte %d: %v", off, protowire.ParseError(n))
		}
		off += n
		var m int
		switch {
		case num == 1 && typ == protowire.BytesType:
			var v []byte
			v, m = protowire.ConsumeBytes(b[off:])
			ev.MessageID = string(v)
		case num == 2 && typ == protowire.BytesType:
			var v []byte
			v, m = protowire.ConsumeBytes(b[off:])
			ev.EventType = d.names.Bytes(v)
		case num == 3 && typ == protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(b[off:])
			ev.Generated = fromUnixNano(int64(v)) //nolint:gosec // int64 on the wire
		case num == 4 && typ == protowire.BytesType:
			var v []byte
			v, m = protowire.ConsumeBytes(b[off:])
			if m >= 0 {
				if ev.Traits == nil {
					ev.Traits = make([]sample.Trait, 0, max(len(d.prev), 1))
				}
				tr, err := d.trait(v, len(ev.Traits))
				if err != nil {
					return ev, fmt.Errorf("trait %d: %w", len(ev.Traits), err)
				}
				ev.Traits = append(ev.Traits, tr)
			}
		case num == 5 && typ == protowire.BytesType:
			var v []byte
			v, m = protowire.ConsumeBytes(b[off:])
			ev.Raw = nil
			if len(v) > 0 {
				ev.Raw = append([]byte(nil), v...)
			}
		default:
			m = protowire.ConsumeFieldValue(num, typ, b[off:])
		}
		if m < 0 {
			return ev, fmt.Errorf("field %d: %v", num, protowire.ParseError(m))
		}
		off += m
	}
	if ev.Traits == nil {
		// EventFromProto makes an empty slice of no traits.
		ev.Traits = []sample.Trait{}
	}
	d.prev = append(d.prev[:0], ev.Traits...)
	return ev, nil
}

// trait decodes the i-th altimeter.v1.Trait of an event. A trait with no
// value set is text "", as EventFromProto reads it; of several values set,
// the last wins (a oneof).
func (d *Decoder) trait(b []byte, i int) (sample.Trait, error) {
	tr := sample.Trait{Type: sample.TraitText}
	var text []byte
	for off := 0; off < len(b); {
		num, typ, n := consumeTag(b[off:])
		if n < 0 {
			return tr, fmt.Errorf("byte %d: %v", off, protowire.ParseError(n))
		}
		off += n
		var m int
		switch {
		case num == 1 && typ == protowire.BytesType:
			var v []byte
			v, m = protowire.ConsumeBytes(b[off:])
			tr.Name = d.names.Bytes(v)
		case num == 2 && typ == protowire.BytesType:
			text, m = protowire.ConsumeBytes(b[off:])
			tr.Type, tr.Int, tr.Float, tr.Datetime = sample.TraitText, 0, 0, time.Time{}
		case num == 3 && typ == protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(b[off:])
			tr.Type, tr.Int, tr.Float, tr.Datetime, text = sample.TraitInt, int64(v), 0, time.Time{}, nil //nolint:gosec // int64 on the wire
		case num == 4 && typ == protowire.Fixed64Type:
			var v uint64
			v, m = protowire.ConsumeFixed64(b[off:])
			tr.Type, tr.Int, tr.Float, tr.Datetime, text = sample.TraitFloat, 0, math.Float64frombits(v), time.Time{}, nil
		case num == 5 && typ == protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(b[off:])
			tr.Type, tr.Int, tr.Float, tr.Datetime, text = sample.TraitDatetime, 0, 0, fromUnixNano(int64(v)), nil //nolint:gosec // int64 on the wire
		default:
			m = protowire.ConsumeFieldValue(num, typ, b[off:])
		}
		if m < 0 {
			return tr, fmt.Errorf("field %d: %v", num, protowire.ParseError(m))
		}
		off += m
	}
	if tr.Type == sample.TraitText && len(text) > 0 {
		if i < len(d.prev) && d.prev[i].Name == tr.Name && d.prev[i].Type == sample.TraitText && d.prev[i].Text == string(text) {
			tr.Text = d.prev[i].Text
		} else {
			tr.Text = string(text)
		}
	}
	return tr, nil
}

// fromUnixNano is the time of Unix nanoseconds n, zero for 0 (as the sdk
// reads the wire's times).
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
